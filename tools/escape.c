/*
 * escape.c - UTF-8 validation, JSON strings, base64 and the text form
 * (see escape.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "escape.h"

static const char hex_digits[] = "0123456789abcdef";

/* The second byte's range for a lead byte, as RFC 3629's table gives it:
 * it rules out overlong forms, surrogates and code points past U+10FFFF. */
static int second_ok(uint8_t lead, uint8_t b)
{
    if (lead == 0xE0)
        return b >= 0xA0 && b <= 0xBF;
    if (lead == 0xED)
        return b >= 0x80 && b <= 0x9F;
    if (lead == 0xF0)
        return b >= 0x90 && b <= 0xBF;
    if (lead == 0xF4)
        return b >= 0x80 && b <= 0x8F;
    return b >= 0x80 && b <= 0xBF;
}

size_t esc_utf8_seq(const uint8_t *s, size_t len)
{
    size_t need;
    if (len == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        need = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        need = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        need = 4;
    else
        return 0;
    if (len < need || !second_ok(s[0], s[1]))
        return 0;
    for (size_t i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return need;
}

int esc_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = esc_utf8_seq(s + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

static void put_hex_byte(FILE *f, const char *prefix, uint8_t b)
{
    fputs(prefix, f);
    putc(hex_digits[b >> 4], f);
    putc(hex_digits[b & 0xF], f);
}

/* The two-character escape of a control byte, or 0 if it has none. */
static char short_escape(uint8_t b)
{
    switch (b) {
    case '\n': return 'n';
    case '\t': return 't';
    case '\r': return 'r';
    default: return 0;
    }
}

void esc_json_string(FILE *f, const uint8_t *s, size_t len)
{
    size_t i = 0;
    putc('"', f);
    while (i < len) {
        uint8_t b = s[i];
        size_t n = esc_utf8_seq(s + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", f);
            i++;
            continue;
        }
        if (b == '"' || b == '\\') {
            putc('\\', f);
            putc(b, f);
        } else if (short_escape(b) != 0) {
            putc('\\', f);
            putc(short_escape(b), f);
        } else if (b == '\b') {
            fputs("\\b", f);
        } else if (b == '\f') {
            fputs("\\f", f);
        } else if (b < 0x20 || b == 0x7f) {
            put_hex_byte(f, "\\u00", b);
        } else {
            fwrite(s + i, 1, n, f);
        }
        i += n;
    }
    putc('"', f);
}

void esc_base64(FILE *f, const uint8_t *s, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        putc(alphabet[v >> 18], f);
        putc(alphabet[(v >> 12) & 63], f);
        putc(alphabet[(v >> 6) & 63], f);
        putc(alphabet[v & 63], f);
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        putc(alphabet[v >> 18], f);
        putc(alphabet[(v >> 12) & 63], f);
        fputs("==", f);
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        putc(alphabet[v >> 18], f);
        putc(alphabet[(v >> 12) & 63], f);
        putc(alphabet[(v >> 6) & 63], f);
        putc('=', f);
    }
}

/* A C1 control character (U+0080..U+009F) is the pair C2 80..C2 9F. */
static int is_c1(const uint8_t *s, size_t n)
{
    return n == 2 && s[0] == 0xC2 && s[1] <= 0x9F;
}

void esc_text(FILE *f, const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        size_t n = esc_utf8_seq(s + i, len - i);
        if (b == '\\') {
            fputs("\\\\", f);
        } else if (n == 1 && short_escape(b) != 0) {
            putc('\\', f);
            putc(short_escape(b), f);
        } else if (n == 0 || b < 0x20 || b == 0x7f || is_c1(s + i, n)) {
            /* Each byte of a C1 character is escaped on its own. */
            size_t k = n == 0 ? 1 : n;
            for (size_t j = 0; j < k; j++)
                put_hex_byte(f, "\\x", s[i + j]);
            i += k;
            continue;
        } else {
            fwrite(s + i, 1, n, f);
        }
        i += n;
    }
}
