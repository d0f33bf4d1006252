/* What the docs' fragments may assume (tests/docs/check_snippets.py): the usual headers,
 * a connection, its configuration, the time and the keepalive example's client record. */
#define _GNU_SOURCE
#include <ws.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

extern ws_config cfg;
extern ws_conn *c;
extern uint64_t now_ms;
extern struct client {
    uint64_t last_message_ms;
} client;
extern int fd;
extern uint8_t buf[16384];
extern bool closing;
