/*
 * The asynchronous-preemption trampoline (x86-64, System V).
 *
 * The SIGURG handler (preempt.cc) injects a call: it stores the
 * interrupted RIP just below the 128-byte red zone, points RSP at it and
 * RIP at rt_async_preempt_trampoline. So the trampoline starts like a
 * function that was called from the interrupted PC, except that every
 * register is live (nothing is caller-saved here), RSP may have any
 * alignment, and the caller's RSP is 136 bytes above the entry RSP.
 *
 * It saves RBP, RFLAGS and the 14 other general registers on the stack,
 * then the whole extended state (x87, SSE, AVX, AVX-512, ... as enabled in
 * XCR0) with XSAVE64 into a 64-byte aligned area (FXSAVE64, 512 bytes,
 * where the OS has not enabled XSAVE), calls the park function with RSP
 * 16-byte aligned and the ABI's clean state (DF clear, empty x87 stack,
 * default x87 control word and MXCSR), and once the goroutine is resumed
 * (possibly on another thread) restores everything in reverse order and
 * returns with `ret $128`, which pops the interrupted RIP and skips the
 * red zone: RSP, RIP and all other state are as they were.
 *
 * Frame (addresses grow up; S = the interrupted RSP, the CFA):
 *
 *   S          +---------------------------+ <- RSP after `ret $128`
 *              |  red zone (128 bytes),    |
 *              |  never touched            |
 *   S-128      +---------------------------+
 *   S-136      |  interrupted RIP          | <- RSP at entry ("return address")
 *   S-144      |  RBP                      | <- RBP (frame pointer)
 *   S-152      |  RFLAGS                   |   RBP-8
 *   S-160      |  RAX                      |   RBP-16
 *   S-168      |  RBX                      |   RBP-24
 *   S-176      |  RCX                      |   RBP-32
 *   S-184      |  RDX                      |   RBP-40
 *   S-192      |  RSI                      |   RBP-48
 *   S-200      |  RDI                      |   RBP-56
 *   S-208      |  R8                       |   RBP-64
 *   ...        |  R9 .. R14                |
 *   S-264      |  R15                      |   RBP-120
 *              +---------------------------+
 *              |  padding to 64 bytes      |
 *              +---------------------------+
 *              |  XSAVE area               |   rt_xsave_size bytes (a multiple
 *              |  (legacy region 512 B,    |   of 64); its header (bytes
 *              |   header 64 B, extended)  |   512..575) is zeroed first
 *   RSP        +---------------------------+ <- 64-aligned, so 16-aligned at the call
 *
 * XSAVE choice: plain (standard-format) XSAVE64 / XRSTOR64 with EDX:EAX =
 * all ones, i.e. every component enabled in XCR0; the area's size is
 * CPUID.(EAX=0DH,ECX=0):EBX, read at init into rt_xsave_size. XSAVE writes
 * only XSTATE_BV in the header, but XRSTOR faults (#GP) unless the
 * header's XCOMP_BV and reserved bytes are zero, and this area is fresh
 * stack memory: so the trampoline zeroes the header before XSAVE. XSAVEC
 * (compacted) and XSAVEOPT are not used: the first would need a per-mask
 * size, the second tracks the last XRSTOR's address, which means nothing
 * for a buffer on a goroutine stack that moves between threads.
 * rt_xsave_flags bit 0 selects XSAVE (else FXSAVE); bit 1 says AVX is
 * enabled, so VZEROUPPER is legal (it avoids SSE/AVX transition penalties
 * in the park path; the upper halves are already saved).
 *
 * Unwinding: the CFI describes the frame exactly: CFA = S, the return
 * address at CFA-136, RBP, RFLAGS and every saved GPR at their slots, and
 * the frame is marked as a signal frame (.cfi_signal_frame) because the
 * "return address" is the interrupted instruction itself, not the one after
 * a call: unwinders must look it up without subtracting 1. backtrace(),
 * C++ exceptions thrown through the park call and debuggers therefore walk
 * from the park function through the trampoline into the interrupted
 * function and beyond.
 *
 * Two entry points share the body (macro TRAMPOLINE):
 *   rt_async_preempt_trampoline       calls rt_async_preempt_park (proc.cc);
 *   rt_async_preempt_trampoline_test  calls *rt_async_preempt_test_fn, for
 *     tests that check the register round trip without a scheduler. It
 *     reads its own copies of the size and flags (rt_xsave_size_test,
 *     rt_xsave_flags_test), so a test can force the FXSAVE path without
 *     touching what real preemptions use.
 *
 * rt_sigreturn_restorer: the sa_restorer used where the SIGURG handler is
 * installed with the raw rt_sigaction system call (ThreadSanitizer builds,
 * see preempt.cc). Its bytes are exactly glibc's __restore_rt
 * (mov $15,%rax; syscall), which unwinders and debuggers recognise as a
 * signal frame; it has no CFI on purpose, so they fall back to that
 * recognition.
 *
 * No GNU property note (IBT/SHSTK) is emitted on purpose: an injected call
 * has no shadow-stack entry, so `ret $128` would fault under a CET shadow
 * stack; linking this object marks the program as not SHSTK-compatible.
 */

#if !defined(__x86_64__)
#error "preempt_amd64.S is for x86-64 only"
#endif

        .hidden rt_xsave_size
        .hidden rt_xsave_flags
        .hidden rt_xsave_size_test
        .hidden rt_xsave_flags_test
        .hidden rt_async_preempt_test_fn

        .section .rodata
        .p2align 2
.Lmxcsr_default:
        .long   0x1f80          /* all exceptions masked, round to nearest */

        .text

/* DWARF register number of RFLAGS (x86-64 psABI). */
#define DW_RFLAGS 49

.macro TRAMPOLINE name, size, flags, target:vararg
        .globl  \name
        .type   \name, @function
        .p2align 4
\name:
        .cfi_startproc
        .cfi_signal_frame
        /* CFA = the interrupted RSP; the interrupted RIP sits at CFA-136. */
        .cfi_def_cfa_offset 136
        .cfi_offset %rip, -136
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_offset %rbp, -144
        movq    %rsp, %rbp
        .cfi_def_cfa_register %rbp
        pushfq
        .cfi_offset DW_RFLAGS, -152
        pushq   %rax
        .cfi_offset %rax, -160
        pushq   %rbx
        .cfi_offset %rbx, -168
        pushq   %rcx
        .cfi_offset %rcx, -176
        pushq   %rdx
        .cfi_offset %rdx, -184
        pushq   %rsi
        .cfi_offset %rsi, -192
        pushq   %rdi
        .cfi_offset %rdi, -200
        pushq   %r8
        .cfi_offset %r8, -208
        pushq   %r9
        .cfi_offset %r9, -216
        pushq   %r10
        .cfi_offset %r10, -224
        pushq   %r11
        .cfi_offset %r11, -232
        pushq   %r12
        .cfi_offset %r12, -240
        pushq   %r13
        .cfi_offset %r13, -248
        pushq   %r14
        .cfi_offset %r14, -256
        pushq   %r15
        .cfi_offset %r15, -264

        /* The extended-state area, 64-byte aligned. The flags are read
           once and kept in EBX (callee-saved, so the park call preserves
           it; its own value is already saved): save and restore always
           take the same path. */
        andq    $-64, %rsp
        movl    \flags(%rip), %ebx
        movl    \size(%rip), %eax
        subq    %rax, %rsp
        testl   $1, %ebx
        jz      1f
        xorl    %eax, %eax
        movq    %rax, 512(%rsp)         /* XSAVE header: XSTATE_BV */
        movq    %rax, 520(%rsp)         /* XCOMP_BV (must be 0 for XRSTOR) */
        movq    %rax, 528(%rsp)         /* reserved (must be 0) */
        movq    %rax, 536(%rsp)
        movq    %rax, 544(%rsp)
        movq    %rax, 552(%rsp)
        movq    %rax, 560(%rsp)
        movq    %rax, 568(%rsp)
        movl    $-1, %eax
        movl    $-1, %edx
        xsave64 (%rsp)
        testl   $2, %ebx
        jz      2f
        vzeroupper
        jmp     2f
1:
        fxsave64 (%rsp)
2:
        /* The ABI's state at a call: DF clear, x87 stack empty, default
           control words (the interrupted code may have changed them;
           FNINIT sets the x87 control word to 0x37f). */
        cld
        fninit
        ldmxcsr .Lmxcsr_default(%rip)

        call    \target

        /* Back on the goroutine, maybe on another M. RBP is callee-saved,
           so the frame is found again through it; RSP is as before the
           call (64-aligned, at the area). */
        testl   $1, %ebx
        jz      3f
        movl    $-1, %eax
        movl    $-1, %edx
        xrstor64 (%rsp)
        jmp     4f
3:
        fxrstor64 (%rsp)
4:
        leaq    -120(%rbp), %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        popfq
        popq    %rbp
        .cfi_def_cfa %rsp, 136
        .cfi_restore %rbp
        /* Pop the interrupted RIP and skip the red zone. */
        ret     $128
        .cfi_endproc
        .size   \name, .-\name
.endm

        TRAMPOLINE rt_async_preempt_trampoline, rt_xsave_size, rt_xsave_flags, rt_async_preempt_park@PLT
        TRAMPOLINE rt_async_preempt_trampoline_test, rt_xsave_size_test, rt_xsave_flags_test, *rt_async_preempt_test_fn(%rip)

/* sa_restorer for a handler installed with the raw rt_sigaction call. The
   leading nop keeps "return address - 1" lookups inside this routine. */
        .p2align 4
        nop
        .globl  rt_sigreturn_restorer
        .hidden rt_sigreturn_restorer
        .type   rt_sigreturn_restorer, @function
rt_sigreturn_restorer:
        movq    $15, %rax               /* __NR_rt_sigreturn */
        syscall
        hlt
        .size   rt_sigreturn_restorer, .-rt_sigreturn_restorer

        .section .note.GNU-stack,"",@progbits
