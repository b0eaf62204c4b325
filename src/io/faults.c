/*
 * faults.c - seeded drop / duplicate / reorder for datagrams at the IO edge.
 */
#include "config.h"

#include "faults.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"

enum { CO_F_DROP = 0, CO_F_DUP = 1, CO_F_REORDER = 2, CO_F_SEED = 3 };
#define CO_F_BOTH (-1)

typedef struct co_fault_key {
    const char *name;
    int dir;   /* CO_F_BOTH or a co_fault_dir_t */
    int field; /* CO_F_* */
} co_fault_key_t;

static const co_fault_key_t co_fault_keys[] = {
    {"drop", CO_F_BOTH, CO_F_DROP},
    {"dup", CO_F_BOTH, CO_F_DUP},
    {"reorder", CO_F_BOTH, CO_F_REORDER},
    {"tx_drop", CO_FAULT_TX, CO_F_DROP},
    {"tx_dup", CO_FAULT_TX, CO_F_DUP},
    {"tx_reorder", CO_FAULT_TX, CO_F_REORDER},
    {"rx_drop", CO_FAULT_RX, CO_F_DROP},
    {"rx_dup", CO_FAULT_RX, CO_F_DUP},
    {"rx_reorder", CO_FAULT_RX, CO_F_REORDER},
    {"seed", CO_F_BOTH, CO_F_SEED},
};
#define CO_FAULT_KEY_COUNT (sizeof co_fault_keys / sizeof co_fault_keys[0])

/* Parse state: which keys were seen (a key twice is an error) and the
 * values, resolved into directions at the end so "rx_drop" wins over
 * "drop" whatever their order. */
typedef struct co_fault_parse {
    bool seen[CO_FAULT_KEY_COUNT];
    double value[CO_FAULT_KEY_COUNT];
    uint64_t seed;
} co_fault_parse_t;

__attribute__((format(printf, 3, 4))) static int
co_fault_fail(char *why, size_t why_len, const char *fmt, ...)
{
    if (why != NULL && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return COHORT_ERR_INVAL;
}

/* A rate is plain decimal ("0", "1", "0.25", ".5"): no sign, exponent,
 * spaces or locale-dependent decimal point, and 0 <= rate <= 1. */
static bool co_fault_parse_rate(const char *s, double *out)
{
    double v = 0.0, scale = 1.0;
    size_t digits = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9' && digits < 24; p++, digits++)
        v = v * 10.0 + (double)(*p - '0');
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9' && digits < 24; p++, digits++) {
            scale /= 10.0;
            v += scale * (double)(*p - '0');
        }
    }
    if (*p != '\0' || digits == 0 || v > 1.0)
        return false;
    *out = v;
    return true;
}

static bool co_fault_parse_seed(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t digits = 0;
    for (const char *p = s; *p != '\0'; p++, digits++) {
        if (*p < '0' || *p > '9' || digits >= 20)
            return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (digits == 0)
        return false;
    *out = v;
    return true;
}

static int co_fault_key_index(const char *key, size_t key_len)
{
    for (size_t i = 0; i < CO_FAULT_KEY_COUNT; i++) {
        if (strlen(co_fault_keys[i].name) == key_len &&
            memcmp(co_fault_keys[i].name, key, key_len) == 0)
            return (int)i;
    }
    return -1;
}

/* item is one NUL-terminated "key=value". */
static int co_fault_parse_item(co_fault_parse_t *ps, const char *item,
                               char *why, size_t why_len)
{
    const char *eq = strchr(item, '=');
    if (item[0] == '\0')
        return co_fault_fail(why, why_len,
                             "faults: empty item (stray comma?)");
    if (eq == NULL)
        return co_fault_fail(why, why_len, "faults: '%s' is not key=value",
                             item);
    int k = co_fault_key_index(item, (size_t)(eq - item));
    if (k < 0)
        return co_fault_fail(why, why_len,
                             "faults: unknown key in '%s' (known: drop, dup, "
                             "reorder, tx_/rx_ forms of those, seed)", item);
    if (ps->seen[k])
        return co_fault_fail(why, why_len, "faults: key repeated in '%s'",
                             item);
    ps->seen[k] = true;
    if (co_fault_keys[k].field == CO_F_SEED) {
        if (!co_fault_parse_seed(eq + 1, &ps->seed))
            return co_fault_fail(why, why_len,
                                 "faults: seed must be a decimal integer "
                                 "in '%s'", item);
        return 0;
    }
    if (!co_fault_parse_rate(eq + 1, &ps->value[k]))
        return co_fault_fail(why, why_len,
                             "faults: rate must be a decimal in [0, 1] "
                             "in '%s'", item);
    return 0;
}

static double *co_fault_field(co_fault_rates_t *r, int field)
{
    COHORT_ASSERT(field >= CO_F_DROP && field <= CO_F_REORDER);
    return field == CO_F_DROP ? &r->drop
           : field == CO_F_DUP ? &r->dup
                               : &r->reorder;
}

/* Plain keys first, then the directional ones over them. */
static void co_fault_resolve(const co_fault_parse_t *ps, co_faults_spec_t *out)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < CO_FAULT_KEY_COUNT; i++) {
            const co_fault_key_t *key = &co_fault_keys[i];
            if (!ps->seen[i] || key->field == CO_F_SEED)
                continue;
            if (pass == 0 && key->dir == CO_F_BOTH) {
                *co_fault_field(&out->rate[CO_FAULT_TX], key->field) =
                    ps->value[i];
                *co_fault_field(&out->rate[CO_FAULT_RX], key->field) =
                    ps->value[i];
            } else if (pass == 1 && key->dir != CO_F_BOTH) {
                *co_fault_field(&out->rate[key->dir], key->field) =
                    ps->value[i];
            }
        }
    }
    out->has_seed = ps->seen[co_fault_key_index("seed", 4)];
    out->seed = ps->seed;
}

int co_faults_parse(const char *spec, co_faults_spec_t *out, char *why,
                    size_t why_len)
{
    if (out == NULL)
        return COHORT_ERR_INVAL;
    memset(out, 0, sizeof *out);
    if (spec == NULL || spec[0] == '\0')
        return 0;
    size_t len = strnlen(spec, CO_FAULTS_SPEC_MAX + 1);
    if (len > CO_FAULTS_SPEC_MAX)
        return co_fault_fail(why, why_len, "faults: spec longer than %d bytes",
                             CO_FAULTS_SPEC_MAX);
    char buf[CO_FAULTS_SPEC_MAX + 1];
    memcpy(buf, spec, len + 1);
    co_fault_parse_t ps;
    memset(&ps, 0, sizeof ps);
    /* Items are split by hand rather than with strtok so that empty items
     * ("a=1,,b=2", a trailing comma) are reported, not skipped. */
    char *item = buf;
    for (size_t n = 0; n <= len; n++) {
        if (buf[n] != ',' && buf[n] != '\0')
            continue;
        buf[n] = '\0';
        int rc = co_fault_parse_item(&ps, item, why, why_len);
        if (rc != 0)
            return rc;
        item = buf + n + 1;
    }
    co_fault_resolve(&ps, out);
    return 0;
}

bool co_faults_active(const co_faults_spec_t *spec, co_fault_dir_t dir)
{
    COHORT_ASSERT(spec != NULL);
    COHORT_ASSERT(dir == CO_FAULT_TX || dir == CO_FAULT_RX);
    const co_fault_rates_t *r = &spec->rate[dir];
    return r->drop > 0.0 || r->dup > 0.0 || r->reorder > 0.0;
}

int co_fault_lane_init(co_fault_lane_t *lane, const co_fault_rates_t *rate,
                       uint64_t seed, size_t slot_bytes)
{
    COHORT_ASSERT(lane != NULL && rate != NULL);
    COHORT_ASSERT(slot_bytes > 0);
    memset(lane, 0, sizeof *lane);
    lane->rate = *rate;
    lane->slot_bytes = slot_bytes;
    co_rng_seed(&lane->rng, seed);
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX; i++) {
        lane->held[i].buf = malloc(slot_bytes);
        if (lane->held[i].buf == NULL)
            return COHORT_ERR_NOMEM;
    }
    return 0;
}

void co_fault_lane_free(co_fault_lane_t *lane)
{
    if (lane == NULL)
        return;
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX; i++) {
        free(lane->held[i].buf);
        lane->held[i].buf = NULL;
        lane->held[i].used = false;
    }
}

static co_fault_held_t *co_fault_free_slot(co_fault_lane_t *lane)
{
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX; i++) {
        if (!lane->held[i].used)
            return &lane->held[i];
    }
    return NULL;
}

static void co_fault_hold(co_fault_lane_t *lane, co_fault_held_t *slot,
                          uint64_t now_ns, const co_fault_dgram_t *d)
{
    COHORT_ASSERT(d->len <= lane->slot_bytes);
    memcpy(slot->buf, d->data, d->len);
    slot->used = true;
    slot->len = d->len;
    slot->kind = d->kind;
    slot->addr = d->addr;
    slot->order = lane->admitted;
    slot->after = 1 + (uint32_t)co_rng_below(&lane->rng,
                                             CO_FAULTS_HOLD_AFTER_MAX);
    slot->release_ns = now_ns + 1 +
                       co_rng_below(&lane->rng, CO_FAULTS_HOLD_MAX_NS);
    lane->reordered++;
}

unsigned co_fault_admit(co_fault_lane_t *lane, uint64_t now_ns,
                        const co_fault_dgram_t *d)
{
    COHORT_ASSERT(lane != NULL && d != NULL);
    COHORT_ASSERT(d->len <= lane->slot_bytes);
    /* Every datagram admitted counts toward releasing the held ones. */
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX; i++) {
        if (lane->held[i].used && lane->held[i].after > 0)
            lane->held[i].after--;
    }
    lane->admitted++;
    /* Always three draws, so one decision never shifts the next ones. */
    bool drop = co_rng_double(&lane->rng) < lane->rate.drop;
    bool dup = co_rng_double(&lane->rng) < lane->rate.dup;
    bool hold = co_rng_double(&lane->rng) < lane->rate.reorder;
    if (drop) {
        lane->dropped++;
        return 0;
    }
    unsigned copies = dup ? 2 : 1;
    if (dup)
        lane->duplicated++;
    co_fault_held_t *slot = hold ? co_fault_free_slot(lane) : NULL;
    if (slot != NULL) {
        co_fault_hold(lane, slot, now_ns, d);
        copies--;
    }
    return copies;
}

bool co_fault_release(co_fault_lane_t *lane, uint64_t now_ns, bool force,
                      co_fault_dgram_t *out)
{
    COHORT_ASSERT(lane != NULL && out != NULL);
    co_fault_held_t *best = NULL;
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX; i++) {
        co_fault_held_t *h = &lane->held[i];
        bool due = force || h->after == 0 || now_ns >= h->release_ns;
        if (h->used && due && (best == NULL || h->order < best->order))
            best = h;
    }
    if (best == NULL)
        return false;
    best->used = false;
    out->data = best->buf;
    out->len = best->len;
    out->kind = best->kind;
    out->addr = best->addr;
    return true;
}

uint64_t co_fault_deadline(const co_fault_lane_t *lane)
{
    COHORT_ASSERT(lane != NULL);
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX; i++) {
        const co_fault_held_t *h = &lane->held[i];
        if (h->used && h->after == 0)
            return 0;
        if (h->used && h->release_ns < t)
            t = h->release_ns;
    }
    return t;
}

size_t co_fault_held_count(const co_fault_lane_t *lane)
{
    COHORT_ASSERT(lane != NULL);
    size_t n = 0;
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX; i++)
        n += lane->held[i].used ? 1 : 0;
    return n;
}
