/* hooks_exit.c - _exit and _Exit. They skip destructors, so they hand
 * lingering sockets over themselves; exit() and a return from main reach
 * linger's destructor (linger.c). */
#include <stdlib.h>
#include <unistd.h>

#include "hooks.h"
#include "linger.h"
#include "pages.h"
#include "real.h"

EXPORT LINGER_HOT __attribute__((noreturn)) void _exit(int status)
{
    linger_at_exit(0);
    real_exit_now(status);
}

EXPORT LINGER_WARM __attribute__((noreturn)) void _Exit(int status)
{
    linger_at_exit(0);
    real_exit_now(status);
}
