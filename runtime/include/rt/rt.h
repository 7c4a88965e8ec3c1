// librt: Go's runtime as a C++20 library. The umbrella header.
#pragma once

#include "rt/memstats.h"
