/*
 * What the bare-metal example needs from its board: console output and exit through Arm
 * semihosting (the debugger, or qemu -semihosting, carries them to the host).
 */
#ifndef BOARD_H
#define BOARD_H

#include <stdbool.h>
#include <stddef.h>

/* Writes s (NUL-terminated) to the host's console. */
void board_puts(const char *s);

/* Ends the program: the host sees exit status 0 when ok, else a failure. */
void board_exit(bool ok) __attribute__((noreturn));

#endif /* BOARD_H */
