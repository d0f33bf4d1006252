/*
 * Private helpers shared by the libws sources. Not installed; nothing here is API.
 */
#ifndef WS_INTERNAL_H
#define WS_INTERNAL_H

#include "ws.h"

#include <string.h>

#define WS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define WS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ASCII lower-casing, independent of the C locale. */
static inline unsigned char ws_ascii_lower(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + ('a' - 'A')) : ch;
}

/* Case-insensitive ASCII comparison of a[0..alen) with the NUL-terminated b. */
static inline bool ws_ascii_ieq(const char *a, size_t alen, const char *b)
{
    size_t i;
    for (i = 0; i < alen; i++) {
        if (b[i] == '\0' ||
            ws_ascii_lower((unsigned char)a[i]) != ws_ascii_lower((unsigned char)b[i]))
            return false;
    }
    return b[alen] == '\0';
}

#endif /* WS_INTERNAL_H */
