// rt::Panic: the exception librt throws where Go panics ("send on closed
// channel", "close of nil channel", "sync: negative WaitGroup counter", ...).
// Uncaught, it ends the process like any exception escaping a goroutine:
// "panic: <message>", the goroutine's trace, exit status 2. It can be caught
// like any exception (Go's recover).
#pragma once

#include <exception>
#include <string>

namespace rt {

class Panic : public std::exception {
 public:
  explicit Panic(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace rt
