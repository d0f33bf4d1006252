/* What the docs' fragments may assume (tests/docs/check_snippets.py): the usual headers,
 * a connection, its configuration, the time, the keepalive example's client record, and the
 * host's own functions the hooks guide calls (logging, a ticket store, a session database). */
#define _GNU_SOURCE
#include <ws.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

extern ws_config cfg;
extern struct client {
    uint64_t last_message_ms;
} client;
#ifdef SNIPPET_FRAGMENT
/* Only for statements: a toplevel snippet may well name its own parameters c, fd or buf. */
extern ws_conn *c;
extern uint64_t now_ms;
extern int fd;
extern uint8_t buf[16384];
extern bool closing;
#endif

/* docs/hooks.md */
void log_line(const char *fmt, ...);
extern const uint8_t secret[32];
extern size_t secret_len;
bool keep_claims(void *ud, ws_conn *c, const ws_token_claims *claims);
struct session {
    char user[WS_TOKEN_SUBJECT_MAX + 1];
    uint64_t expires;
    bool may_stream;
};
bool is_banned(const char *subject);
struct ticket_store;
bool ticket_store_take(void *store, const char *ticket, size_t len);
struct app {
    void *db;
};
struct lookup;
struct lookup *lookup_new(struct app *app, ws_conn *c);
void lookup_free(struct lookup *q);
void db_query_session_async(void *db, const char *token,
                            void (*done)(void *arg, const struct session *s), void *arg);
void *session_ref(const struct session *s);
