/*
 * kvd_cmd.h - the command table of cohort-kvd and the execution of its
 * commands against a kvd_store.
 *
 * A write runs twice: once at the replica that received it, in check
 * mode (store NULL: syntax only, so a malformed write is refused at once
 * and never multicast), then at every replica when the total order
 * delivers it, against the store. Execution depends only on the store,
 * the arguments and the time carried in the message (the origin's clock
 * at sending, for relative expiries), so every replica computes the same
 * result; only the origin sends the reply to its client.
 */
#ifndef COHORT_TOOLS_KVD_CMD_H
#define COHORT_TOOLS_KVD_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "kvd_resp.h"
#include "kvd_store.h"

enum kvd_cmd_flag {
    KVD_CMD_WRITE = 1,     /* changes the keyspace: goes through the order */
    KVD_CMD_READ = 2,      /* reads it: local, or ordered with
                              --linearizable-reads */
    KVD_CMD_LOCAL = 4,     /* no keyspace (PING, ECHO, COMMAND, SELECT) */
    KVD_CMD_SERVER = 8,    /* answered by the server (INFO, CLIENT, QUIT,
                              CONFIG): kvd_cmd_run() does not know it */
};

enum kvd_cmd_id {
    KVD_ID_OTHER = 0,
    KVD_ID_INFO,
    KVD_ID_CLIENT,
    KVD_ID_QUIT,
    KVD_ID_CONFIG,
};

struct kvd_exec {
    struct kvd_store *store;   /* NULL: check mode */
    uint64_t time_ms;          /* the write's time (origin clock, UTC ms) */
    struct kvd_buf *out;       /* the reply goes here */
};

typedef void (*kvd_cmd_fn)(struct kvd_exec *x, size_t argc,
                           const struct kvd_arg *argv);

struct kvd_cmd_def {
    const char *name;          /* lower case */
    int arity;                 /* Redis's: n exactly, -n at least n */
    unsigned flags;
    int first_key, last_key, key_step;   /* for COMMAND */
    enum kvd_cmd_id id;
    kvd_cmd_fn fn;             /* NULL for KVD_CMD_SERVER */
};

/* The definition of argv[0] (any case), or NULL. */
const struct kvd_cmd_def *kvd_cmd_find(const struct kvd_arg *name);

/* -ERR unknown command 'x', with args beginning with: 'a' 'b' */
void kvd_cmd_unknown(struct kvd_buf *out, size_t argc,
                     const struct kvd_arg *argv);

/* Check argc against the arity; on a mismatch reply the error and
 * return -1. */
int kvd_cmd_arity(const struct kvd_cmd_def *d, size_t argc,
                  struct kvd_buf *out);

/* Run d (not a SERVER command) with x. argc passed kvd_cmd_arity. */
void kvd_cmd_run(const struct kvd_cmd_def *d, struct kvd_exec *x,
                 size_t argc, const struct kvd_arg *argv);

/* Check mode: 0 if the command may be multicast, else -1 with the error
 * reply in out. */
int kvd_cmd_check(const struct kvd_cmd_def *d, size_t argc,
                  const struct kvd_arg *argv, struct kvd_buf *out);

/* Parse a whole argument as a signed 64-bit decimal, strictly (as Redis's
 * string2ll: no spaces, no '+', no leading zeros). 0 or -1. */
int kvd_parse_ll(const struct kvd_arg *a, long long *out);

/* "0123...ef": the digest as 32 hex digits and a NUL. */
void kvd_digest_hex(const struct kvd_store *s, char out[33]);

#endif /* COHORT_TOOLS_KVD_CMD_H */
