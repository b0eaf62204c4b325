/*
 * kvd_msg.c - cohort-kvd's replication messages (see kvd_msg.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "kvd_msg.h"

#include "common.h"

#include <string.h>

void kvd_msg_encode(struct kvd_buf *out, const struct kvd_msg *m, size_t argc,
                    const struct kvd_arg *argv)
{
    uint8_t h[KVD_MSG_HEADER_BYTES];
    size_t total = KVD_MSG_HEADER_BYTES;
    for (size_t i = 0; i < argc; i++) {
        if (argv[i].len > UINT32_MAX) {
            out->failed = 1;
            return;
        }
        total += 4 + argv[i].len;
    }
    if (argc > UINT32_MAX || kvd_buf_reserve(out, total) != 0) {
        out->failed = 1;
        return;
    }
    h[0] = KVD_MSG_MAGIC;
    h[1] = (uint8_t)m->type;
    tool_put_le(h + 2, KVD_MSG_VERSION, 2);
    tool_put_le(h + 4, m->origin_id, 4);
    tool_put_le(h + 8, m->origin_incarnation, 4);
    tool_put_le(h + 12, m->request_id, 8);
    tool_put_le(h + 20, m->time_ms, 8);
    tool_put_le(h + 28, argc, 4);
    kvd_buf_put(out, h, sizeof h);
    for (size_t i = 0; i < argc; i++) {
        uint8_t l[4];
        tool_put_le(l, argv[i].len, 4);
        kvd_buf_put(out, l, 4);
        kvd_buf_put(out, argv[i].p, argv[i].len);
    }
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
    if (m->type != KVD_MSG_COMMAND && m->type != KVD_MSG_TIME &&
        m->type != KVD_MSG_CATCHUP)
        return -1;
    if ((m->type == KVD_MSG_COMMAND) != (argc > 0) ||
        argc > (len - at) / 4)
        return -1;
    for (uint64_t i = 0; i < argc; i++) {
        uint64_t n;
        if (len - at < 4)
            return -1;
        n = tool_get_le(p + at, 4);
        at += 4;
        if (n > len - at ||
            kvd_args_push(args, (const char *)p + at, (size_t)n) != 0)
            return -1;
        at += (size_t)n;
    }
    return at == len ? 0 : -1;
}
