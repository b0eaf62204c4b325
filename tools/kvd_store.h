/*
 * kvd_store.h - the keyspace of cohort-kvd: string keys and values in a
 * hash table, expiry by an externally supplied ("ordered") time, a SCAN
 * cursor, an order-independent digest, and a streaming snapshot writer and
 * loader for state transfer.
 *
 * Time: the store never reads a clock. Its notion of now is the last time
 * given to kvd_store_advance(), which cohort-kvd takes from the total
 * order, so every replica expires the same keys at the same point of the
 * stream. A key whose expiry is <= now does not exist: it is removed the
 * moment now passes it (a min-heap by expiry), and a write that gives it
 * an expiry already past removes it at once.
 *
 * Determinism: the table's hash is seeded (per process, against collision
 * floods), so bucket order differs between replicas; everything that must
 * agree across replicas (values, expiries, counts, the digest) does not
 * depend on it. SCAN order and snapshot order do, which is fine: both are
 * read by one replica.
 */
#ifndef COHORT_TOOLS_KVD_STORE_H
#define COHORT_TOOLS_KVD_STORE_H

#include <stddef.h>
#include <stdint.h>

#define KVD_STORE_MAX_KEY_BYTES ((size_t)512 << 20)
#define KVD_STORE_MAX_VALUE_BYTES ((size_t)512 << 20)

struct kvd_entry {
    struct kvd_entry *next;      /* bucket chain */
    uint64_t hash;
    uint64_t expire_ms;          /* 0: none */
    size_t heap_idx;             /* index in the expiry heap, or SIZE_MAX */
    char *val;
    size_t vlen;
    size_t klen;
    char key[];                  /* klen bytes and a NUL */
};

struct kvd_store {
    struct kvd_entry **buckets;
    size_t mask;                 /* buckets - 1; a power of two */
    size_t count;
    struct kvd_entry **heap;     /* min-heap by expire_ms */
    size_t heap_len, heap_cap;
    uint64_t now_ms;             /* the last ordered time */
    uint64_t seed;
    uint64_t version;            /* bumped by every change (snapshots
                                    check it) */
};

/* 0, or -1 when out of memory. */
int kvd_store_init(struct kvd_store *s, uint64_t seed);
void kvd_store_free(struct kvd_store *s);

/* The live entry of key, or NULL. */
struct kvd_entry *kvd_store_get(const struct kvd_store *s, const void *key,
                                size_t klen);

/* Set key to val (copied) with expire_ms (0: none; <= now: the key is
 * removed instead). Returns 0, or -1 when out of memory (nothing
 * changed). */
int kvd_store_set(struct kvd_store *s, const void *key, size_t klen,
                  const void *val, size_t vlen, uint64_t expire_ms);

/* Replace an entry's value (its expiry stays). 0 or -1 (unchanged). */
int kvd_store_set_value(struct kvd_store *s, struct kvd_entry *e,
                        const void *val, size_t vlen);
/* Append to an entry's value. 0 or -1 (unchanged). */
int kvd_store_append(struct kvd_store *s, struct kvd_entry *e,
                     const void *val, size_t vlen);

/* Give e a new expiry (0: none; <= now removes it: e is freed). Returns
 * 1 if e still exists, 0 if it was removed. -1: out of memory. */
int kvd_store_expire(struct kvd_store *s, struct kvd_entry *e,
                     uint64_t expire_ms);

/* Remove key; 1 if it existed. */
int kvd_store_del(struct kvd_store *s, const void *key, size_t klen);

/* Remove every key (the time stays). */
void kvd_store_clear(struct kvd_store *s);

/* Move now forward to now_ms (never back) and remove the keys that
 * expire by then. Returns how many were removed. */
size_t kvd_store_advance(struct kvd_store *s, uint64_t now_ms);

/* Keys with an expiry. */
static inline size_t kvd_store_expires(const struct kvd_store *s)
{
    return s->heap_len;
}

/*
 * SCAN: visit the entries of the bucket at cursor (0 starts) through
 * fn, and return the cursor of the next bucket (0: done). The cursor
 * counts buckets in reverse-binary order, so a key present for a whole
 * scan is visited at least once even when the table grows or shrinks in
 * between (it may be visited twice).
 */
typedef void (*kvd_visit_fn)(void *ctx, const struct kvd_entry *e);
uint64_t kvd_store_scan(const struct kvd_store *s, uint64_t cursor,
                        kvd_visit_fn fn, void *ctx);

/* Digest of the contents (keys, values, expiries), independent of
 * insertion order and of the hash seed: equal stores, equal digests. */
void kvd_store_digest(const struct kvd_store *s, uint8_t out[16]);

/*
 * Glob match as Redis's KEYS and SCAN MATCH do: '*', '?', '[...]' (with
 * '^' and ranges) and '\' escapes. Linear-time backtracking (no
 * exponential patterns).
 */
int kvd_glob_match(const char *pat, size_t plen, const char *s, size_t slen);

/* ------------------------------------------------------------------ */
/* Snapshot: a self-delimiting byte stream, written and read in chunks */
/* of any size, so a state far larger than any one buffer goes through */
/* a bounded buffer.                                                   */
/*                                                                     */
/*   header  "KVDSNAP1" | u64 now_ms | u64 count                       */
/*   entry   u64 klen | u64 vlen | u64 expire_ms | key | value          */
/*   trailer "KVDEND\0\0" | 16 bytes: the digest, now_ms mixed in     */
/* (integers little-endian). The store must not change while a writer  */
/* runs: kvd_snap_write() fails if it did (the caller takes the        */
/* snapshot between two deliveries, or stops applying until it is      */
/* done).                                                              */
/* ------------------------------------------------------------------ */
#define KVD_SNAP_HEADER_BYTES 24
#define KVD_SNAP_ENTRY_HEADER_BYTES 24
#define KVD_SNAP_TRAILER_BYTES 24

struct kvd_snap_writer {
    const struct kvd_store *s;
    uint64_t version;
    size_t bucket;               /* next bucket to take entries from */
    const struct kvd_entry *e;   /* entry being written, or NULL */
    size_t off;                  /* bytes of the current piece written */
    int piece;                   /* 0 header, 1 entry, 2 trailer, 3 done */
    uint8_t tmp[KVD_SNAP_TRAILER_BYTES];
};

void kvd_snap_writer_init(struct kvd_snap_writer *w,
                          const struct kvd_store *s);
/* Write up to cap bytes of the stream into buf. Returns the number
 * written (0 once it is all out), or -1 if the store changed. */
long kvd_snap_write(struct kvd_snap_writer *w, uint8_t *buf, size_t cap);

struct kvd_snap_loader {
    struct kvd_store *s;
    uint8_t hdr[KVD_SNAP_TRAILER_BYTES];
    size_t hdr_len;
    int piece;                   /* 0 header, 1 entry header, 2 entry
                                    body, 3 trailer, 4 done, -1 failed */
    uint64_t count, loaded;
    uint64_t klen, vlen, expire_ms;
    char *body;                  /* key + value being read */
    size_t body_len;
};

/* Start loading into s, which is cleared first. */
void kvd_snap_loader_init(struct kvd_snap_loader *l, struct kvd_store *s);
/* Feed the next len bytes. 0, or -1 on a malformed stream or no memory
 * (the store then holds part of the snapshot: clear it). */
int kvd_snap_load(struct kvd_snap_loader *l, const uint8_t *p, size_t len);
/* The stream is over: 0 if it was complete and its digest matches the
 * loaded store, else -1. Frees the loader's buffers either way. */
int kvd_snap_load_end(struct kvd_snap_loader *l);

#endif /* COHORT_TOOLS_KVD_STORE_H */
