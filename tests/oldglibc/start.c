/* start.c - the program entry for test programs that must run on an old
 * glibc: calls the __libc_start_main that every x86-64 glibc exports
 * (GLIBC_2.2.5) instead of glibc 2.34's, without init and fini, as glibc
 * 2.34's own crt1.o does. Linked with -nostartfiles, and the program built
 * with -include shim/glibc_compat.h (tests/integration/test_install.py). */
__asm__(".symver __libc_start_main,__libc_start_main@GLIBC_2.2.5");
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"
        "  xor %ebp,%ebp\n"          /* the outermost frame */
        "  mov %rdx,%r9\n"           /* rtld_fini, from the loader */
        "  pop %rsi\n"               /* argc */
        "  mov %rsp,%rdx\n"          /* argv */
        "  and $-16,%rsp\n"
        "  push %rax\n"
        "  push %rsp\n"              /* stack_end */
        "  xor %r8d,%r8d\n"          /* fini */
        "  xor %ecx,%ecx\n"          /* init */
        "  mov main@GOTPCREL(%rip),%rdi\n"
        "  call *__libc_start_main@GOTPCREL(%rip)\n"
        "  hlt\n");
