/*
 * Start-up for the Cortex-M4 example (mps2-an386 under qemu-system-arm, or any M3/M4): the
 * vector table, copying .data from flash and clearing .bss, then main. Console and exit go
 * through Arm semihosting: no UART driver, no C library I/O and no heap.
 */
#include "board.h"

#include <stdint.h>
#include <string.h>

/* Set by mps2-an386.ld. */
extern uint32_t __stack_top[];
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];

int main(void);
void reset_handler(void);
void fault_handler(void);

/* Semihosting operations (Arm "Semihosting for AArch32 and AArch64"). */
enum { SYS_WRITE0 = 0x04, SYS_EXIT = 0x18 };
/* SYS_EXIT reasons: a normal end, and one the host reports as a failure. */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR    0x20023u

static void semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
}

void board_puts(const char *s)
{
    semihost(SYS_WRITE0, s);
}

void board_exit(bool ok)
{
    for (;;)
        semihost(SYS_EXIT, (const void *)(uintptr_t)(ok ? ADP_STOPPED_APPLICATION_EXIT
                                                        : ADP_STOPPED_RUNTIME_ERROR));
}

void reset_handler(void)
{
    memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
    memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
    board_exit(main() == 0);
}

void fault_handler(void)
{
    board_puts("not ok - fault (HardFault, MemManage, BusFault or UsageFault)\n");
    board_exit(false);
}

/* The initial stack pointer, then the handlers: reset and the faults; nothing else is used. */
typedef struct vector_table {
    uint32_t *stack_top;
    void (*handler[6])(void);
} vector_table;

__attribute__((section(".vectors"), used)) const vector_table vectors = {
    __stack_top,
    {reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler},
};
