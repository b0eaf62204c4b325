/*
 * kvd_resp.c - RESP2 buffers, request parser and reply writer (see
 * kvd_resp.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "kvd_resp.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Buffers and argument vectors                                        */
/* ------------------------------------------------------------------ */

void kvd_buf_init(struct kvd_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void kvd_buf_free(struct kvd_buf *b)
{
    free(b->data);
    kvd_buf_init(b, b->max);
}

int kvd_buf_reserve(struct kvd_buf *b, size_t extra)
{
    size_t want, cap;
    char *p;
    if (b->failed)
        return -1;
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len ||
        (b->max != 0 && b->len + extra > b->max)) {
        b->failed = 1;
        return -1;
    }
    want = b->len + extra;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    if (b->max != 0 && cap > b->max)
        cap = b->max;
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void kvd_buf_put(struct kvd_buf *b, const void *p, size_t n)
{
    if (n == 0 || kvd_buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void buf_vprintf(struct kvd_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || kvd_buf_reserve(b, (size_t)n + 1) != 0)
        return;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void kvd_buf_printf(struct kvd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void kvd_buf_consume(struct kvd_buf *b, size_t n)
{
    assert(n <= b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void kvd_args_init(struct kvd_args *a) { memset(a, 0, sizeof *a); }

void kvd_args_free(struct kvd_args *a)
{
    free(a->v);
    kvd_args_init(a);
}

int kvd_args_push(struct kvd_args *a, const char *p, size_t len)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct kvd_arg *v = realloc(a->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].p = p;
    a->v[a->n].len = len;
    a->n++;
    return 0;
}

static int ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Every command and every option word passes here, and the command
 * lookup's every step: no strlen() of word, and the first differing byte
 * ends it (a pipelined SET used to spend more time matching words than in
 * the store). The end of either side orders below any byte. */
int kvd_arg_cmp(const struct kvd_arg *a, const char *word)
{
    const unsigned char *p = (const unsigned char *)a->p;
    const unsigned char *w = (const unsigned char *)word;
    for (size_t i = 0;; i++) {
        int x = i < a->len ? ascii_lower(p[i]) + 1 : 0;
        int y = w[i] ? ascii_lower(w[i]) + 1 : 0;
        if (x != y || x == 0)
            return x - y;
    }
}

int kvd_arg_is(const struct kvd_arg *a, const char *word)
{
    return kvd_arg_cmp(a, word) == 0;
}

/* ------------------------------------------------------------------ */
/* Parser                                                              */
/* ------------------------------------------------------------------ */

static const char ERR_NOMEM[] = "ERR out of memory";

/* A decimal with an optional '-', at most 18 digits (no overflow). */
static int parse_len(const char *p, size_t n, long long *out)
{
    long long v = 0;
    int neg = 0;
    size_t i = 0;
    if (n > 0 && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 18)
        return -1;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* Find the CRLF ending the line that starts at buf[at]. Returns 1 with
 * *eol at the '\r', 0 when more bytes are needed, -1 when the line is
 * longer than the inline bound or its LF lacks the CR. */
static int find_line(const char *buf, size_t len, size_t at, size_t *eol)
{
    size_t room = len - at;
    const char *nl;
    if (room > KVD_RESP_MAX_INLINE_BYTES + 2)
        room = KVD_RESP_MAX_INLINE_BYTES + 2;
    nl = memchr(buf + at, '\n', room);
    if (nl == NULL)
        return room > KVD_RESP_MAX_INLINE_BYTES + 1 ? -1 : 0;
    if (nl == buf + at || nl[-1] != '\r')
        return -1;
    *eol = (size_t)(nl - buf) - 1;
    return 1;
}

static int parse_bulk(char *buf, size_t len, size_t *at, struct kvd_args *out,
                      size_t *need, const char **err)
{
    static char expected[64];
    size_t pos = *at, eol = 0;
    long long blen;
    int r;
    if (pos >= len) {
        *need = pos + 1;
        return KVD_PARSE_MORE;
    }
    if (buf[pos] != '$') {
        unsigned char c = (unsigned char)buf[pos];
        snprintf(expected, sizeof expected,
                 "ERR Protocol error: expected '$', got '%c'",
                 c >= 0x20 && c < 0x7f ? c : '?');
        *err = expected;
        return KVD_PARSE_ERROR;
    }
    r = find_line(buf, len, pos + 1, &eol);
    if (r == 0) {
        *need = len + 1;
        return KVD_PARSE_MORE;
    }
    if (r < 0 || parse_len(buf + pos + 1, eol - pos - 1, &blen) != 0 ||
        blen < 0 || (unsigned long long)blen > KVD_RESP_MAX_BULK_BYTES) {
        *err = "ERR Protocol error: invalid bulk length";
        return KVD_PARSE_ERROR;
    }
    pos = eol + 2;
    if (len - pos < (size_t)blen + 2) {
        *need = pos + (size_t)blen + 2;
        return KVD_PARSE_MORE;
    }
    if (buf[pos + (size_t)blen] != '\r' || buf[pos + (size_t)blen + 1] != '\n') {
        *err = "ERR Protocol error: expected CRLF after bulk data";
        return KVD_PARSE_ERROR;
    }
    if (kvd_args_push(out, buf + pos, (size_t)blen) != 0) {
        *err = ERR_NOMEM;
        return KVD_PARSE_ERROR;
    }
    *at = pos + (size_t)blen + 2;
    return KVD_PARSE_DONE;
}

static int parse_multibulk(char *buf, size_t len, struct kvd_args *out,
                           size_t *used, size_t *need, const char **err)
{
    size_t eol = 0, at;
    long long n;
    int r = find_line(buf, len, 1, &eol);
    if (r == 0) {
        *need = len + 1;
        return KVD_PARSE_MORE;
    }
    if (r < 0) {
        *err = "ERR Protocol error: too big mbulk count string";
        return KVD_PARSE_ERROR;
    }
    if (parse_len(buf + 1, eol - 1, &n) != 0 ||
        n > (long long)KVD_RESP_MAX_ARGS) {
        *err = "ERR Protocol error: invalid multibulk length";
        return KVD_PARSE_ERROR;
    }
    at = eol + 2;
    for (long long i = 0; i < n; i++) {
        r = parse_bulk(buf, len, &at, out, need, err);
        if (r != KVD_PARSE_DONE)
            return r;
    }
    *used = at;
    return KVD_PARSE_DONE;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One escape inside double quotes at s[*i] == '\\' (as Redis's
 * sdssplitargs): writes the byte, advances *i past the escape. */
static char unescape(const char *s, size_t end, size_t *i)
{
    char c = s[*i + 1];
    *i += 2;
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    case 'x':
        if (*i + 1 < end && hex_digit(s[*i]) >= 0 &&
            hex_digit(s[*i + 1]) >= 0) {
            char v = (char)(hex_digit(s[*i]) * 16 + hex_digit(s[*i + 1]));
            *i += 2;
            return v;
        }
        return 'x';
    default: return c;
    }
}

/* A quoted word from s[*i] (the opening quote) to its closing quote,
 * unescaped in place at s[*i]. Returns its length or -1 if unbalanced. */
static long quoted_word(char *s, size_t end, size_t *i)
{
    char q = s[*i];
    size_t r = *i + 1, w = *i;
    for (;;) {
        if (r >= end)
            return -1;
        if (s[r] == q) {
            r++;
            if (r < end && s[r] != ' ' && s[r] != '\t')
                return -1;    /* closing quote must end the word */
            break;
        }
        if (s[r] == '\\' && r + 1 < end &&
            (q == '"' || s[r + 1] == '\''))
            s[w++] = q == '"' ? unescape(s, end, &r) : (r += 2, '\'');
        else
            s[w++] = s[r++];
    }
    {
        long n = (long)(w - *i);
        *i = r;
        return n;
    }
}

static int parse_inline(char *buf, size_t len, struct kvd_args *out,
                        size_t *used, size_t *need, const char **err)
{
    const char *nl;
    size_t end, i = 0, room = len;
    if (room > KVD_RESP_MAX_INLINE_BYTES + 1)
        room = KVD_RESP_MAX_INLINE_BYTES + 1;
    nl = memchr(buf, '\n', room);
    if (nl == NULL) {
        if (len > KVD_RESP_MAX_INLINE_BYTES) {
            *err = "ERR Protocol error: too big inline request";
            return KVD_PARSE_ERROR;
        }
        *need = len + 1;
        return KVD_PARSE_MORE;
    }
    end = (size_t)(nl - buf);
    *used = end + 1;
    if (end > 0 && buf[end - 1] == '\r')
        end--;
    while (i < end) {
        size_t start;
        long n;
        if (buf[i] == ' ' || buf[i] == '\t') {
            i++;
            continue;
        }
        start = i;
        if (buf[i] == '"' || buf[i] == '\'') {
            n = quoted_word(buf, end, &i);
            if (n < 0) {
                *err = "ERR Protocol error: unbalanced quotes in request";
                return KVD_PARSE_ERROR;
            }
        } else {
            while (i < end && buf[i] != ' ' && buf[i] != '\t')
                i++;
            n = (long)(i - start);
        }
        if (out->n >= KVD_RESP_MAX_ARGS ||
            kvd_args_push(out, buf + start, (size_t)n) != 0) {
            *err = ERR_NOMEM;
            return KVD_PARSE_ERROR;
        }
    }
    return KVD_PARSE_DONE;
}

int kvd_resp_parse(char *buf, size_t len, struct kvd_args *out, size_t *used,
                   size_t *need, const char **err)
{
    assert(buf != NULL || len == 0);
    out->n = 0;
    *need = 1;
    *err = NULL;
    if (len == 0)
        return KVD_PARSE_MORE;
    if (buf[0] == '*')
        return parse_multibulk(buf, len, out, used, need, err);
    return parse_inline(buf, len, out, used, need, err);
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

void kvd_resp_simple(struct kvd_buf *b, const char *s)
{
    kvd_buf_put(b, "+", 1);
    kvd_buf_put(b, s, strlen(s));
    kvd_buf_put(b, "\r\n", 2);
}

/* c, then the decimal digits of v (and '-' first when neg), then CRLF:
 * the headers every reply has, without printf's cost. */
static void put_number(struct kvd_buf *b, char c, int neg, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (neg)
        tmp[--i] = '-';
    tmp[--i] = c;
    kvd_buf_put(b, tmp + i, sizeof tmp - i);
}

void kvd_resp_error(struct kvd_buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t start = b->len;
    kvd_buf_put(b, "-", 1);
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
    if (b->failed)
        return;
    for (size_t i = start; i < b->len; i++) {
        if (b->data[i] == '\r' || b->data[i] == '\n')
            b->data[i] = ' ';
    }
    kvd_buf_put(b, "\r\n", 2);
}

void kvd_resp_int(struct kvd_buf *b, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    put_number(b, ':', v < 0, mag);
}

void kvd_resp_bulk(struct kvd_buf *b, const void *p, size_t len)
{
    put_number(b, '$', 0, len);
    kvd_buf_put(b, p, len);
    kvd_buf_put(b, "\r\n", 2);
}

void kvd_resp_bulk_str(struct kvd_buf *b, const char *s)
{
    kvd_resp_bulk(b, s, strlen(s));
}

void kvd_resp_null(struct kvd_buf *b) { kvd_buf_put(b, "$-1\r\n", 5); }

void kvd_resp_array(struct kvd_buf *b, size_t n)
{
    put_number(b, '*', 0, n);
}
