/*
 * chat_msg.c - cohort-chat's message format and the showing of untrusted
 * text (chat_msg.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <string.h>

#include "chat_msg.h"

size_t chat_msg_encode(uint8_t *out, size_t cap, enum chat_msg_kind kind,
                       const char *name, size_t name_len,
                       const char *text, size_t text_len)
{
    size_t total = CHAT_MSG_HEADER_BYTES + name_len + text_len;
    if (kind < CHAT_MSG_SAY || kind > CHAT_MSG_NAME || name == NULL ||
        name_len == 0 || name_len > CHAT_NAME_MAX ||
        (text == NULL && text_len > 0) || total > cap ||
        total < name_len)
        return 0;
    out[0] = CHAT_MSG_MARKER;
    out[1] = CHAT_MSG_VERSION;
    out[2] = (uint8_t)kind;
    out[3] = (uint8_t)name_len;
    memcpy(out + CHAT_MSG_HEADER_BYTES, name, name_len);
    if (text_len > 0)
        memcpy(out + CHAT_MSG_HEADER_BYTES + name_len, text, text_len);
    return total;
}

enum chat_msg_kind chat_msg_decode(const void *data, size_t len,
                                   struct chat_msg *m)
{
    const uint8_t *b = data;
    size_t n;
    memset(m, 0, sizeof *m);
    if (len == 0 || b[0] != CHAT_MSG_MARKER) {
        m->kind = CHAT_MSG_PLAIN;
        m->text = data;
        m->text_len = len;
        return m->kind;
    }
    if (len < CHAT_MSG_HEADER_BYTES || b[1] != CHAT_MSG_VERSION ||
        b[2] < CHAT_MSG_SAY || b[2] > CHAT_MSG_NAME)
        return CHAT_MSG_BAD;
    n = b[3];
    if (n == 0 || n > CHAT_NAME_MAX || n > len - CHAT_MSG_HEADER_BYTES)
        return CHAT_MSG_BAD;
    m->kind = (enum chat_msg_kind)b[2];
    m->name = (const char *)b + CHAT_MSG_HEADER_BYTES;
    m->name_len = n;
    m->text = m->name + n;
    m->text_len = len - CHAT_MSG_HEADER_BYTES - n;
    return m->kind;
}

/* Length of the valid, shortest-form UTF-8 sequence at s (at most len
 * bytes) and its code point in *cp; 0 if there is none. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2; c &= 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3; c &= 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4; c &= 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* Characters that must not reach a terminal: controls, and the
 * bidirectional overrides and isolates that can make text read other
 * than it is (U+202A..U+202E, U+2066..U+2069). */
static int unsafe_char(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

size_t chat_sanitize(const char *in, size_t len, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, i = 0;
    while (len > 0 && (in[len - 1] == '\n' || in[len - 1] == '\r'))
        len--;
    while (i < len) {
        uint32_t cp = 0;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (n == 0 || unsafe_char(cp)) {
            if (o + 2 > cap)
                break;
            out[o++] = cp == '\t' && n == 1 ? ' ' : '?';
            i += n == 0 ? 1 : n;
            continue;
        }
        if (o + n + 1 > cap)
            break;
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    if (cap > 0)
        out[o] = '\0';
    return o;
}

int chat_name_ok(const char *name, size_t len)
{
    const unsigned char *s = (const unsigned char *)name;
    if (name == NULL || len == 0 || len > CHAT_NAME_MAX ||
        name[0] == ' ' || name[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (n == 0 || unsafe_char(cp))
            return 0;
        i += n;
    }
    return 1;
}
