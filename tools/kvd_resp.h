/*
 * kvd_resp.h - the Redis protocol (RESP2) for cohort-kvd: a bounded
 * growable byte buffer, an argument vector, the request parser (multibulk
 * and inline forms) and the reply writer.
 *
 * The parser is stateless: it is given everything buffered so far and
 * either finds one whole command at the start, says how many bytes it
 * needs at least before it can say more, or names a protocol error (the
 * server then replies with it and closes the connection, as Redis does).
 * It never allocates more than the argument vector, which grows with the
 * arguments actually present in the buffer, never with a length a client
 * merely claims.
 */
#ifndef COHORT_TOOLS_KVD_RESP_H
#define COHORT_TOOLS_KVD_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Limits of one request (Redis's own, where it has one). */
#define KVD_RESP_MAX_BULK_BYTES ((size_t)512 << 20)  /* proto-max-bulk-len */
#define KVD_RESP_MAX_ARGS ((size_t)1 << 20)          /* arguments a command */
#define KVD_RESP_MAX_INLINE_BYTES ((size_t)64 << 10) /* inline line, and any
                                                        "*N" / "$N" line */

/* A byte buffer. failed is set (and stays set) when an append could not
 * allocate or would pass max; the owner then gives up on what it was
 * building (the server closes the connection). */
struct kvd_buf {
    char *data;
    size_t len, cap;
    size_t max;          /* 0: no bound */
    int failed;
};

void kvd_buf_init(struct kvd_buf *b, size_t max);
void kvd_buf_free(struct kvd_buf *b);
/* Make room for extra more bytes; 0, or -1 (failed set). */
int kvd_buf_reserve(struct kvd_buf *b, size_t extra);
void kvd_buf_put(struct kvd_buf *b, const void *p, size_t n);
void kvd_buf_printf(struct kvd_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void kvd_buf_consume(struct kvd_buf *b, size_t n);

/* One argument: bytes owned by whoever filled the vector (the parser
 * points into the request buffer, the message decoder into the message). */
struct kvd_arg {
    const char *p;
    size_t len;
};

struct kvd_args {
    struct kvd_arg *v;
    size_t n, cap;
};

void kvd_args_init(struct kvd_args *a);
void kvd_args_free(struct kvd_args *a);
/* Append one; 0, or -1 when out of memory. */
int kvd_args_push(struct kvd_args *a, const char *p, size_t len);

/* An argument against a NUL-terminated word, both in ASCII lower case
 * whatever the locale: <0, 0 or >0 as strcmp() orders them (a NUL inside
 * the argument is a byte like any other). */
int kvd_arg_cmp(const struct kvd_arg *a, const char *word);

/* kvd_arg_cmp() == 0: the argument is the word, in any case. */
int kvd_arg_is(const struct kvd_arg *a, const char *word);

enum kvd_parse_result {
    KVD_PARSE_ERROR = -1,   /* *err names it; close after replying */
    KVD_PARSE_MORE = 0,     /* incomplete; *need bytes at least */
    KVD_PARSE_DONE = 1,     /* one command in *out (may have 0 args: an
                               empty line or "*0"), *used bytes long */
};

/*
 * Parse one command at the start of buf[0..len). The arguments point into
 * buf, which must stay unchanged while they are used; an inline command's
 * quoted arguments are unescaped in place (hence not const). On MORE,
 * *need is the buffer length below which parsing again cannot finish
 * (the caller may wait for that much). On ERROR, *err is a static
 * Redis-style message without the leading '-'.
 */
int kvd_resp_parse(char *buf, size_t len, struct kvd_args *out, size_t *used,
                   size_t *need, const char **err);

/* Replies. An error's text has CR and LF replaced by spaces so a reply
 * stays one line whatever a client's arguments contain. */
void kvd_resp_simple(struct kvd_buf *b, const char *s);
void kvd_resp_error(struct kvd_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kvd_resp_int(struct kvd_buf *b, int64_t v);
void kvd_resp_bulk(struct kvd_buf *b, const void *p, size_t len);
void kvd_resp_bulk_str(struct kvd_buf *b, const char *s);
void kvd_resp_null(struct kvd_buf *b);
void kvd_resp_array(struct kvd_buf *b, size_t n);

#endif /* COHORT_TOOLS_KVD_RESP_H */
