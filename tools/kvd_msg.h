/*
 * kvd_msg.h - the replication messages of cohort-kvd, as multicast in the
 * total order. Integers little-endian; every field is checked on decode
 * (a message from a member running another build is dropped and counted,
 * never trusted).
 *
 *   offset size field
 *        0    1 magic 'K'
 *        1    1 type: 1 command, 2 time, 3 catch-up, 4 batch
 *        2    2 format version (1)
 *        4    4 origin member id          } who answers the client: the
 *        8    4 origin incarnation        } replica that sent it
 *       12    8 request id (per origin, from 1, in sending order);
 *                catch-up: the member told, id << 32 | incarnation
 *       20    8 time: the origin's clock (UTC ms) when it sent; relative
 *                expiries (SET EX, EXPIRE) count from it; a time message
 *                moves every replica's ordered time to it
 *       28    4 argc (0 for time and catch-up); batch: the number of
 *                commands, count (>= 1)
 *       32      argc x (u32 length, bytes): the command and its arguments;
 *                batch: count x (u32 argc (>= 1), argc x (u32 length,
 *                bytes)), the commands of request ids request_id,
 *                request_id + 1, ... (one origin, one time)
 *
 * A batch carries the writes one replica took from its clients in one
 * round of its loop: one message (one place in the order, one hold and
 * one copy in the library) for many pipelined commands. Each command of
 * a batch is applied as if it came alone, in its place in the batch.
 *
 * A catch-up message is sent by a replica that moved from one primary
 * view to the next, naming a member of the new view that was not in the
 * old one: it may lack the old view's writes, and asks for the state
 * (docs/replicated-server.md, "The catch-up rule"). Its time_ms field
 * carries instead the id of that old primary view: a member that came
 * from a primary view as recent (by the id's counter) ignores it.
 */
#ifndef COHORT_TOOLS_KVD_MSG_H
#define COHORT_TOOLS_KVD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "kvd_resp.h"

#define KVD_MSG_MAGIC 'K'
#define KVD_MSG_VERSION 1
#define KVD_MSG_HEADER_BYTES 32

enum kvd_msg_type {
    KVD_MSG_COMMAND = 1,
    KVD_MSG_TIME = 2,
    KVD_MSG_CATCHUP = 3,
    KVD_MSG_BATCH = 4,
};

struct kvd_msg {
    enum kvd_msg_type type;
    uint32_t origin_id, origin_incarnation;
    uint64_t request_id;
    uint64_t time_ms;
    uint32_t count;             /* batch: its commands (decode sets it) */
};

/* Append m and its arguments (none for TIME and CATCHUP) to out.
 * out->failed is set if it could not grow. */
void kvd_msg_encode(struct kvd_buf *out, const struct kvd_msg *m, size_t argc,
                    const struct kvd_arg *argv);

/* Decode p[0..len) into *m and args (pointing into p). 0, or -1 if
 * malformed (or args could not grow). A batch is checked whole (every
 * command in it); args is then left empty and kvd_msg_batch_next()
 * gives its commands. */
int kvd_msg_decode(const void *p, size_t len, struct kvd_msg *m,
                   struct kvd_args *args);

/* The bytes one command takes in a batch; SIZE_MAX if it cannot go in
 * one (an argument over 4 GiB). */
size_t kvd_msg_command_bytes(size_t argc, const struct kvd_arg *argv);

/* Building a batch in out: begin (room for the header), add each
 * command (argc >= 1), then end, which writes the header of m with count
 * commands. out->failed is set if it could not grow. */
void kvd_msg_batch_begin(struct kvd_buf *out);
void kvd_msg_batch_add(struct kvd_buf *out, size_t argc,
                       const struct kvd_arg *argv);
void kvd_msg_batch_end(struct kvd_buf *out, const struct kvd_msg *m,
                       uint32_t count);

/* The next command of a batch that kvd_msg_decode() accepted: *at starts
 * at KVD_MSG_HEADER_BYTES and moves past it. 0, or -1 once past the end
 * (or malformed, or args could not grow). */
int kvd_msg_batch_next(const void *p, size_t len, size_t *at,
                       struct kvd_args *args);

#endif /* COHORT_TOOLS_KVD_MSG_H */
