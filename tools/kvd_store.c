/*
 * kvd_store.c - the keyspace of cohort-kvd (see kvd_store.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "kvd_store.h"

#include "common.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MIN_BUCKETS 16
#define DIGEST_SEED_A 0x6b76642d64696731ull    /* fixed: replicas agree */
#define DIGEST_SEED_B 0x9e3779b97f4a7c15ull

/* ------------------------------------------------------------------ */
/* Hashing                                                             */
/* ------------------------------------------------------------------ */

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = fmix64(seed ^ (n * 0x9e3779b97f4a7c15ull));
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        h = (h ^ fmix64(w)) * 0x100000001b3ull;
        h ^= h >> 29;
        b += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t w = 0;
        memcpy(&w, b, n);
        h = (h ^ fmix64(w ^ ((uint64_t)n << 56))) * 0x100000001b3ull;
    }
    return fmix64(h);
}

/* ------------------------------------------------------------------ */
/* Expiry heap                                                         */
/* ------------------------------------------------------------------ */

static void heap_place(struct kvd_store *s, size_t i, struct kvd_entry *e)
{
    s->heap[i] = e;
    e->heap_idx = i;
}

static void heap_up(struct kvd_store *s, size_t i)
{
    struct kvd_entry *e = s->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (s->heap[parent]->expire_ms <= e->expire_ms)
            break;
        heap_place(s, i, s->heap[parent]);
        i = parent;
    }
    heap_place(s, i, e);
}

static void heap_down(struct kvd_store *s, size_t i)
{
    struct kvd_entry *e = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_len)
            break;
        if (c + 1 < s->heap_len &&
            s->heap[c + 1]->expire_ms < s->heap[c]->expire_ms)
            c++;
        if (e->expire_ms <= s->heap[c]->expire_ms)
            break;
        heap_place(s, i, s->heap[c]);
        i = c;
    }
    heap_place(s, i, e);
}

static int heap_reserve(struct kvd_store *s)
{
    if (s->heap_len == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        struct kvd_entry **h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL)
            return -1;
        s->heap = h;
        s->heap_cap = cap;
    }
    return 0;
}

static void heap_remove(struct kvd_store *s, struct kvd_entry *e)
{
    size_t i = e->heap_idx;
    struct kvd_entry *last;
    if (i == SIZE_MAX)
        return;
    assert(i < s->heap_len && s->heap[i] == e);
    e->heap_idx = SIZE_MAX;
    last = s->heap[--s->heap_len];
    if (last == e)
        return;
    heap_place(s, i, last);
    heap_up(s, i);
    heap_down(s, last->heap_idx);
}

/* Set e's expiry in the heap (expire_ms > 0). The caller reserved room. */
static void heap_set(struct kvd_store *s, struct kvd_entry *e,
                     uint64_t expire_ms)
{
    e->expire_ms = expire_ms;
    if (e->heap_idx == SIZE_MAX) {
        assert(s->heap_len < s->heap_cap);
        heap_place(s, s->heap_len++, e);
        heap_up(s, e->heap_idx);
    } else {
        heap_up(s, e->heap_idx);
        heap_down(s, e->heap_idx);
    }
}

/* ------------------------------------------------------------------ */
/* Table                                                               */
/* ------------------------------------------------------------------ */

int kvd_store_init(struct kvd_store *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->buckets = calloc(STORE_MIN_BUCKETS, sizeof *s->buckets);
    if (s->buckets == NULL)
        return -1;
    s->mask = STORE_MIN_BUCKETS - 1;
    s->seed = seed;
    return 0;
}

static void entry_free(struct kvd_entry *e)
{
    free(e->val);
    free(e);
}

void kvd_store_clear(struct kvd_store *s)
{
    for (size_t i = 0; i <= s->mask; i++) {
        struct kvd_entry *e = s->buckets[i];
        while (e != NULL) {
            struct kvd_entry *next = e->next;
            entry_free(e);
            e = next;
        }
        s->buckets[i] = NULL;
    }
    s->count = 0;
    s->heap_len = 0;
    s->version++;
}

void kvd_store_free(struct kvd_store *s)
{
    if (s->buckets != NULL)
        kvd_store_clear(s);
    free(s->buckets);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

/* Rehash into n buckets (a power of two) at once. On no memory the table
 * just stays as it is (it still works, only slower). */
static void resize(struct kvd_store *s, size_t n)
{
    struct kvd_entry **b = calloc(n, sizeof *b);
    if (b == NULL)
        return;
    for (size_t i = 0; i <= s->mask; i++) {
        struct kvd_entry *e = s->buckets[i];
        while (e != NULL) {
            struct kvd_entry *next = e->next;
            size_t j = (size_t)e->hash & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->mask = n - 1;
}

static void maybe_resize(struct kvd_store *s)
{
    size_t n = s->mask + 1;
    if (s->count > n && n <= SIZE_MAX / 4 / sizeof *s->buckets)
        resize(s, n * 2);
    else if (n > STORE_MIN_BUCKETS && s->count < n / 8)
        resize(s, n / 2);
}

static struct kvd_entry **find_slot(const struct kvd_store *s,
                                    const void *key, size_t klen,
                                    uint64_t h)
{
    struct kvd_entry **pp = &s->buckets[(size_t)h & s->mask];
    while (*pp != NULL) {
        struct kvd_entry *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return pp;
        pp = &e->next;
    }
    return pp;
}

struct kvd_entry *kvd_store_get(const struct kvd_store *s, const void *key,
                                size_t klen)
{
    uint64_t h = hash_bytes(s->seed, key, klen);
    struct kvd_entry *e = *find_slot(s, key, klen, h);
    /* Expired keys are removed as time advances; this is a safeguard. */
    if (e != NULL && e->expire_ms != 0 && e->expire_ms <= s->now_ms)
        return NULL;
    return e;
}

static void unlink_entry(struct kvd_store *s, struct kvd_entry **pp)
{
    struct kvd_entry *e = *pp;
    *pp = e->next;
    heap_remove(s, e);
    entry_free(e);
    assert(s->count > 0);
    s->count--;
    s->version++;
}

int kvd_store_del(struct kvd_store *s, const void *key, size_t klen)
{
    uint64_t h = hash_bytes(s->seed, key, klen);
    struct kvd_entry **pp = find_slot(s, key, klen, h);
    if (*pp == NULL)
        return 0;
    unlink_entry(s, pp);
    maybe_resize(s);
    return 1;
}

static char *copy_value(const void *val, size_t vlen)
{
    char *v = malloc(vlen ? vlen : 1);
    if (v != NULL && vlen > 0)
        memcpy(v, val, vlen);
    return v;
}

int kvd_store_set(struct kvd_store *s, const void *key, size_t klen,
                  const void *val, size_t vlen, uint64_t expire_ms)
{
    uint64_t h = hash_bytes(s->seed, key, klen);
    struct kvd_entry **pp = find_slot(s, key, klen, h);
    struct kvd_entry *e = *pp;
    char *v;
    if (expire_ms != 0 && expire_ms <= s->now_ms) {
        if (e != NULL)
            unlink_entry(s, pp);
        return 0;
    }
    if ((expire_ms != 0 && heap_reserve(s) != 0) ||
        (v = copy_value(val, vlen)) == NULL)
        return -1;
    if (e == NULL) {
        e = malloc(sizeof *e + klen + 1);
        if (e == NULL) {
            free(v);
            return -1;
        }
        memset(e, 0, sizeof *e);
        memcpy(e->key, key, klen);
        e->key[klen] = '\0';
        e->klen = klen;
        e->hash = h;
        e->heap_idx = SIZE_MAX;
        e->next = s->buckets[(size_t)h & s->mask];
        s->buckets[(size_t)h & s->mask] = e;
        s->count++;
    } else {
        free(e->val);
    }
    e->val = v;
    e->vlen = vlen;
    if (expire_ms == 0) {
        heap_remove(s, e);
        e->expire_ms = 0;
    } else {
        heap_set(s, e, expire_ms);
    }
    s->version++;
    maybe_resize(s);
    return 0;
}

int kvd_store_set_value(struct kvd_store *s, struct kvd_entry *e,
                        const void *val, size_t vlen)
{
    char *v = copy_value(val, vlen);
    if (v == NULL)
        return -1;
    free(e->val);
    e->val = v;
    e->vlen = vlen;
    s->version++;
    return 0;
}

int kvd_store_append(struct kvd_store *s, struct kvd_entry *e,
                     const void *val, size_t vlen)
{
    char *v;
    if (vlen > KVD_STORE_MAX_VALUE_BYTES - e->vlen)
        return -1;
    v = realloc(e->val, e->vlen + vlen + 1);
    if (v == NULL)
        return -1;
    if (vlen > 0)
        memcpy(v + e->vlen, val, vlen);
    e->val = v;
    e->vlen += vlen;
    s->version++;
    return 0;
}

int kvd_store_expire(struct kvd_store *s, struct kvd_entry *e,
                     uint64_t expire_ms)
{
    if (expire_ms != 0 && expire_ms <= s->now_ms) {
        int r = kvd_store_del(s, e->key, e->klen);
        assert(r == 1);
        (void)r;
        return 0;
    }
    if (expire_ms == 0) {
        heap_remove(s, e);
        e->expire_ms = 0;
    } else {
        if (heap_reserve(s) != 0)
            return -1;
        heap_set(s, e, expire_ms);
    }
    s->version++;
    return 1;
}

size_t kvd_store_advance(struct kvd_store *s, uint64_t now_ms)
{
    size_t n = 0;
    if (now_ms <= s->now_ms)
        return 0;
    s->now_ms = now_ms;
    s->version++;
    while (s->heap_len > 0 && s->heap[0]->expire_ms <= now_ms) {
        struct kvd_entry *e = s->heap[0];
        int r = kvd_store_del(s, e->key, e->klen);
        assert(r == 1);
        (void)r;
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* SCAN                                                                */
/* ------------------------------------------------------------------ */

static uint64_t rev64(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) {
        r = (r << 1) | (v & 1);
        v >>= 1;
    }
    return r;
}

uint64_t kvd_store_scan(const struct kvd_store *s, uint64_t cursor,
                        kvd_visit_fn fn, void *ctx)
{
    uint64_t mask = (uint64_t)s->mask;
    const struct kvd_entry *e = s->buckets[cursor & mask];
    for (; e != NULL; e = e->next)
        fn(ctx, e);
    /* Increment the high bits of the masked cursor, reversed, so buckets
     * split or merged by a resize are all visited (Redis's dictScan). */
    cursor |= ~mask;
    cursor = rev64(cursor);
    cursor++;
    return rev64(cursor);
}

/* ------------------------------------------------------------------ */
/* Digest                                                              */
/* ------------------------------------------------------------------ */

static uint64_t entry_digest(const struct kvd_entry *e, uint64_t seed)
{
    uint64_t h = hash_bytes(seed, e->key, e->klen);
    h = fmix64(h ^ hash_bytes(seed + 1, e->val, e->vlen));
    return fmix64(h ^ (e->expire_ms * 0x9e3779b97f4a7c15ull));
}

void kvd_store_digest(const struct kvd_store *s, uint8_t out[16])
{
    uint64_t a = 0, b = 0;
    for (size_t i = 0; i <= s->mask; i++) {
        for (const struct kvd_entry *e = s->buckets[i]; e; e = e->next) {
            a += entry_digest(e, DIGEST_SEED_A);
            b ^= entry_digest(e, DIGEST_SEED_B);
        }
    }
    a = fmix64(a ^ s->count);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (8 * i));
        out[8 + i] = (uint8_t)(b >> (8 * i));
    }
}

/* ------------------------------------------------------------------ */
/* Glob                                                                */
/* ------------------------------------------------------------------ */

/* Does the class at pat[*pi] ('[' ...) match c? Advances *pi past ']'. */
static int class_match(const char *pat, size_t plen, size_t *pi, char c)
{
    size_t i = *pi + 1;
    int neg = 0, hit = 0;
    if (i < plen && pat[i] == '^') {
        neg = 1;
        i++;
    }
    for (; i < plen && pat[i] != ']'; i++) {
        if (pat[i] == '\\' && i + 1 < plen) {
            i++;
            hit |= pat[i] == c;
        } else if (i + 2 < plen && pat[i + 1] == '-' && pat[i + 2] != ']') {
            char lo = pat[i], hi = pat[i + 2];
            if (lo > hi) {
                char t = lo;
                lo = hi;
                hi = t;
            }
            hit |= c >= lo && c <= hi;
            i += 2;
        } else {
            hit |= pat[i] == c;
        }
    }
    *pi = i < plen ? i + 1 : i;    /* an unclosed class ends the pattern */
    return neg ? !hit : hit;
}

int kvd_glob_match(const char *pat, size_t plen, const char *s, size_t slen)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*')
                pi++;
            if (pi == plen)
                return 1;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            size_t next = pi + 1;
            int ok;
            if (pat[pi] == '?') {
                ok = 1;
            } else if (pat[pi] == '[') {
                next = pi;
                ok = class_match(pat, plen, &next, s[si]);
            } else if (pat[pi] == '\\' && pi + 1 < plen) {
                ok = pat[pi + 1] == s[si];
                next = pi + 2;
            } else {
                ok = pat[pi] == s[si];
            }
            if (ok) {
                pi = next;
                si++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return 0;
        /* Let the last star take one more byte and try again. */
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}

/* ------------------------------------------------------------------ */
/* Snapshot writer                                                     */
/* ------------------------------------------------------------------ */

/* The trailer's check: the digest, with the snapshot's time mixed in
 * (the digest alone does not cover it). */
static void snap_digest(const struct kvd_store *s, uint8_t out[16])
{
    uint64_t t = fmix64(s->now_ms ^ DIGEST_SEED_B);
    kvd_store_digest(s, out);
    for (int i = 0; i < 8; i++)
        out[i] ^= (uint8_t)(t >> (8 * i));
}

static const char SNAP_MAGIC[8] = { 'K', 'V', 'D', 'S', 'N', 'A', 'P', '1' };
static const char SNAP_END[8] = { 'K', 'V', 'D', 'E', 'N', 'D', 0, 0 };

void kvd_snap_writer_init(struct kvd_snap_writer *w,
                          const struct kvd_store *s)
{
    memset(w, 0, sizeof *w);
    w->s = s;
    w->version = s->version;
    memcpy(w->tmp, SNAP_MAGIC, 8);
    tool_put_le(w->tmp + 8, s->now_ms, 8);
    tool_put_le(w->tmp + 16, s->count, 8);
}

/* The next entry after w->e in table order, or NULL at the end. */
static const struct kvd_entry *next_entry(struct kvd_snap_writer *w)
{
    if (w->e != NULL && w->e->next != NULL)
        return w->e->next;
    while (w->bucket <= w->s->mask) {
        const struct kvd_entry *e = w->s->buckets[w->bucket++];
        if (e != NULL)
            return e;
    }
    return NULL;
}

/* Start the piece after the current one. */
static void writer_step(struct kvd_snap_writer *w)
{
    w->off = 0;
    if (w->piece == 2) {
        w->piece = 3;
        return;
    }
    w->e = next_entry(w);
    if (w->e != NULL) {
        w->piece = 1;
        tool_put_le(w->tmp, w->e->klen, 8);
        tool_put_le(w->tmp + 8, w->e->vlen, 8);
        tool_put_le(w->tmp + 16, w->e->expire_ms, 8);
        return;
    }
    w->piece = 2;
    memcpy(w->tmp, SNAP_END, 8);
    snap_digest(w->s, w->tmp + 8);
}

/* The bytes of the current piece from offset off: (pointer, length). An
 * entry is its header, then its key, then its value. */
static const uint8_t *piece_bytes(const struct kvd_snap_writer *w,
                                  size_t *len)
{
    size_t off = w->off;
    if (w->piece != 1) {
        *len = KVD_SNAP_HEADER_BYTES - off;
        return w->tmp + off;
    }
    if (off < KVD_SNAP_ENTRY_HEADER_BYTES) {
        *len = KVD_SNAP_ENTRY_HEADER_BYTES - off;
        return w->tmp + off;
    }
    off -= KVD_SNAP_ENTRY_HEADER_BYTES;
    if (off < w->e->klen) {
        *len = w->e->klen - off;
        return (const uint8_t *)w->e->key + off;
    }
    off -= w->e->klen;
    *len = w->e->vlen - off;
    return (const uint8_t *)w->e->val + off;
}

long kvd_snap_write(struct kvd_snap_writer *w, uint8_t *buf, size_t cap)
{
    size_t done = 0;
    if (w->s->version != w->version)
        return -1;
    if (cap > (size_t)0x7fffffff)
        cap = 0x7fffffff;
    while (done < cap && w->piece != 3) {
        size_t len;
        const uint8_t *p = piece_bytes(w, &len);
        if (len == 0) {
            writer_step(w);
            continue;
        }
        if (len > cap - done)
            len = cap - done;
        memcpy(buf + done, p, len);
        done += len;
        w->off += len;
    }
    return (long)done;
}

/* ------------------------------------------------------------------ */
/* Snapshot loader                                                     */
/* ------------------------------------------------------------------ */

void kvd_snap_loader_init(struct kvd_snap_loader *l, struct kvd_store *s)
{
    memset(l, 0, sizeof *l);
    l->s = s;
    kvd_store_clear(s);
}

static int loader_fail(struct kvd_snap_loader *l)
{
    free(l->body);
    l->body = NULL;
    l->piece = -1;
    return -1;
}

/* A fixed-size piece is whole in l->hdr: act on it. */
static int loader_fixed(struct kvd_snap_loader *l)
{
    l->hdr_len = 0;
    switch (l->piece) {
    case 0:
        if (memcmp(l->hdr, SNAP_MAGIC, 8) != 0)
            return loader_fail(l);
        l->s->now_ms = tool_get_le(l->hdr + 8, 8);
        l->count = tool_get_le(l->hdr + 16, 8);
        l->piece = l->count > 0 ? 1 : 3;
        return 0;
    case 1:
        l->klen = tool_get_le(l->hdr, 8);
        l->vlen = tool_get_le(l->hdr + 8, 8);
        l->expire_ms = tool_get_le(l->hdr + 16, 8);
        if (l->klen > KVD_STORE_MAX_KEY_BYTES ||
            l->vlen > KVD_STORE_MAX_VALUE_BYTES)
            return loader_fail(l);
        l->body = malloc(l->klen + l->vlen + 1);
        if (l->body == NULL)
            return loader_fail(l);
        l->body_len = 0;
        l->piece = 2;
        return 0;
    default: {
        uint8_t d[16];
        snap_digest(l->s, d);
        if (memcmp(l->hdr, SNAP_END, 8) != 0 || memcmp(l->hdr + 8, d, 16))
            return loader_fail(l);
        l->piece = 4;
        return 0;
    }
    }
}

static int loader_body_done(struct kvd_snap_loader *l)
{
    struct kvd_store *s = l->s;
    size_t before = s->count;
    /* An entry that has expired by the snapshot's own time is not one a
     * writer would produce. */
    if ((l->expire_ms != 0 && l->expire_ms <= s->now_ms) ||
        kvd_store_set(s, l->body, l->klen, l->body + l->klen, l->vlen,
                      l->expire_ms) != 0 || s->count != before + 1)
        return loader_fail(l);
    free(l->body);
    l->body = NULL;
    l->loaded++;
    l->piece = l->loaded < l->count ? 1 : 3;
    return 0;
}

int kvd_snap_load(struct kvd_snap_loader *l, const uint8_t *p, size_t len)
{
    while (len > 0) {
        size_t n;
        if (l->piece < 0 || l->piece == 4)
            return loader_fail(l);    /* bytes after the end */
        if (l->piece == 2) {
            n = (size_t)(l->klen + l->vlen) - l->body_len;
            n = n < len ? n : len;
            memcpy(l->body + l->body_len, p, n);
            l->body_len += n;
            p += n;
            len -= n;
            if (l->body_len == l->klen + l->vlen && loader_body_done(l))
                return -1;
            continue;
        }
        n = KVD_SNAP_HEADER_BYTES - l->hdr_len;
        n = n < len ? n : len;
        memcpy(l->hdr + l->hdr_len, p, n);
        l->hdr_len += n;
        p += n;
        len -= n;
        if (l->hdr_len == KVD_SNAP_HEADER_BYTES && loader_fixed(l) != 0)
            return -1;
    }
    /* An entry with an empty key and value is whole without any byte. */
    if (l->piece == 2 && l->klen + l->vlen == 0)
        return loader_body_done(l);
    return 0;
}

int kvd_snap_load_end(struct kvd_snap_loader *l)
{
    int ok = l->piece == 4;
    free(l->body);
    l->body = NULL;
    return ok ? 0 : -1;
}
