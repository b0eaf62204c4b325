/*
 * kvd_msg.c - cohort-kvd's replication messages (see kvd_msg.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "kvd_msg.h"

#include "common.h"

#include <string.h>

static void put_header(uint8_t h[KVD_MSG_HEADER_BYTES],
                       const struct kvd_msg *m, enum kvd_msg_type type,
                       uint64_t argc)
{
    h[0] = KVD_MSG_MAGIC;
    h[1] = (uint8_t)type;
    tool_put_le(h + 2, KVD_MSG_VERSION, 2);
    tool_put_le(h + 4, m->origin_id, 4);
    tool_put_le(h + 8, m->origin_incarnation, 4);
    tool_put_le(h + 12, m->request_id, 8);
    tool_put_le(h + 20, m->time_ms, 8);
    tool_put_le(h + 28, argc, 4);
}

/* argc x (u32 length, bytes); the room is reserved. */
static void put_args(struct kvd_buf *out, size_t argc,
                     const struct kvd_arg *argv)
{
    for (size_t i = 0; i < argc; i++) {
        uint8_t l[4];
        tool_put_le(l, argv[i].len, 4);
        kvd_buf_put(out, l, 4);
        kvd_buf_put(out, argv[i].p, argv[i].len);
    }
}

/* The bytes of argc x (u32 length, bytes); SIZE_MAX if too long. */
static size_t args_bytes(size_t argc, const struct kvd_arg *argv)
{
    size_t total = 0;
    if (argc > UINT32_MAX)
        return SIZE_MAX;
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len > UINT32_MAX ||
            argv[i].len > SIZE_MAX / 2 - 4 - total)
            return SIZE_MAX;
        total += 4 + argv[i].len;
    }
    return total;
}

void kvd_msg_encode(struct kvd_buf *out, const struct kvd_msg *m, size_t argc,
                    const struct kvd_arg *argv)
{
    uint8_t h[KVD_MSG_HEADER_BYTES];
    size_t body = args_bytes(argc, argv);
    if (body == SIZE_MAX ||
        kvd_buf_reserve(out, KVD_MSG_HEADER_BYTES + body) != 0) {
        out->failed = 1;
        return;
    }
    put_header(h, m, m->type, argc);
    kvd_buf_put(out, h, sizeof h);
    put_args(out, argc, argv);
}

size_t kvd_msg_command_bytes(size_t argc, const struct kvd_arg *argv)
{
    size_t body = args_bytes(argc, argv);
    return body == SIZE_MAX ? SIZE_MAX : 4 + body;
}

void kvd_msg_batch_begin(struct kvd_buf *out)
{
    uint8_t h[KVD_MSG_HEADER_BYTES] = { 0 };
    out->len = 0;
    out->failed = 0;
    if (kvd_buf_reserve(out, sizeof h) != 0) {
        out->failed = 1;
        return;
    }
    kvd_buf_put(out, h, sizeof h);
}

void kvd_msg_batch_add(struct kvd_buf *out, size_t argc,
                       const struct kvd_arg *argv)
{
    uint8_t l[4];
    size_t bytes = kvd_msg_command_bytes(argc, argv);
    if (bytes == SIZE_MAX || argc == 0 || kvd_buf_reserve(out, bytes) != 0) {
        out->failed = 1;
        return;
    }
    tool_put_le(l, argc, 4);
    kvd_buf_put(out, l, 4);
    put_args(out, argc, argv);
}

void kvd_msg_batch_end(struct kvd_buf *out, const struct kvd_msg *m,
                       uint32_t count)
{
    if (out->len < KVD_MSG_HEADER_BYTES) {
        out->failed = 1;
        return;
    }
    put_header((uint8_t *)out->data, m, KVD_MSG_BATCH, count);
}

/* argc x (u32 length, bytes) at p[*at..len) into args. */
static int get_args(const uint8_t *p, size_t len, size_t *at, uint64_t argc,
                    struct kvd_args *args)
{
    args->n = 0;
    if (argc > (len - *at) / 4)
        return -1;
    for (uint64_t i = 0; i < argc; i++) {
        uint64_t n;
        if (len - *at < 4)
            return -1;
        n = tool_get_le(p + *at, 4);
        *at += 4;
        if (n > len - *at ||
            kvd_args_push(args, (const char *)p + *at, (size_t)n) != 0)
            return -1;
        *at += (size_t)n;
    }
    return 0;
}

int kvd_msg_batch_next(const void *data, size_t len, size_t *at,
                       struct kvd_args *args)
{
    const uint8_t *p = data;
    uint64_t argc;
    args->n = 0;
    if (*at < KVD_MSG_HEADER_BYTES || *at > len || len - *at < 4)
        return -1;
    argc = tool_get_le(p + *at, 4);
    *at += 4;
    if (argc == 0)
        return -1;
    return get_args(p, len, at, argc, args);
}

int kvd_msg_decode(const void *data, size_t len, struct kvd_msg *m,
                   struct kvd_args *args)
{
    const uint8_t *p = data;
    size_t at = KVD_MSG_HEADER_BYTES;
    uint64_t argc;
    args->n = 0;
    if (len < KVD_MSG_HEADER_BYTES || p[0] != KVD_MSG_MAGIC ||
        tool_get_le(p + 2, 2) != KVD_MSG_VERSION)
        return -1;
    memset(m, 0, sizeof *m);
    m->type = (enum kvd_msg_type)p[1];
    m->origin_id = (uint32_t)tool_get_le(p + 4, 4);
    m->origin_incarnation = (uint32_t)tool_get_le(p + 8, 4);
    m->request_id = tool_get_le(p + 12, 8);
    m->time_ms = tool_get_le(p + 20, 8);
    argc = tool_get_le(p + 28, 4);
    switch (m->type) {
    case KVD_MSG_COMMAND:
        if (argc == 0 || get_args(p, len, &at, argc, args) != 0)
            return -1;
        return at == len ? 0 : -1;
    case KVD_MSG_TIME:
    case KVD_MSG_CATCHUP:
        return argc == 0 && len == at ? 0 : -1;
    case KVD_MSG_BATCH:
        /* Each command takes at least 8 bytes (argc, one length). */
        if (argc == 0 || argc > (len - at) / 8 ||
            m->request_id > UINT64_MAX - argc)
            return -1;
        for (uint64_t i = 0; i < argc; i++)
            if (kvd_msg_batch_next(p, len, &at, args) != 0)
                return -1;
        args->n = 0;
        m->count = (uint32_t)argc;
        return at == len ? 0 : -1;
    }
    return -1;
}
