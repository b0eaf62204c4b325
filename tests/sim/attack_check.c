/*
 * attack_check.c - what a core may do with a datagram of the attacker
 * (attack.c), judged for each one that reaches a running core.
 *
 *  - Drops: the core must count exactly the reason the wire rules give.
 *    pre_tag_reason() is an independent reading of those rules (wire.h and
 *    docs/security.md: the header decoder, the group and self filters, the
 *    security mode, the key id, in that order); past them, a datagram the
 *    attacker altered or made up must fail the tag (AUTH), and a recorded
 *    one that another key sealed too. A recorded datagram sealed with the
 *    receiver's key is dropped as REPLAY (DUPLICATE without security) or
 *    STALE, or taken as new: the receiver never had it, and it cannot be
 *    told from a late copy (its records may then count DUPLICATE and the
 *    like, as any datagram's can).
 *  - Member lists: an altered or made-up datagram must change nothing. A
 *    recorded one may introduce the live incarnation of a real member (the
 *    receiver would hear it anyway) or drop an incarnation that is gone;
 *    dropping a live member fails the run. Bringing back an incarnation
 *    that is gone (crashed, left, replaced) is the limit of the replay
 *    defence docs/security.md describes: counted as a ghost, and a failure
 *    under --strict-replay.
 *  - At the end of the run the attack must show in the drop counters.
 * What it makes a core deliver is checked like any delivery (check.c).
 */
#include <stdio.h>
#include <string.h>

#include "co_assert.h"
#include "crypto.h"
#include "sim.h"
#include "wire.h"

static const char *const drop_names[COHORT_DROP__COUNT] = {
    "TRUNCATED", "BAD_MAGIC",  "BAD_VERSION",    "BAD_TYPE",
    "BAD_FIELD", "OTHER_GROUP", "SELF",          "DUPLICATE",
    "STALE",     "AUTH",       "REPLAY",         "KEY_UNKNOWN",
    "SECURITY_MODE", "NO_BUFFER", "UNKNOWN_MEMBER", "INJECTED",
    "QUEUE_FULL"};

static const char *const kind_names[SIM_ATK__COUNT] = {
    "replay", "burst", "flip", "truncate", "extend", "field", "forge"};

const char *sim_drop_name(int reason)
{
    COHORT_ASSERT(reason >= 0 && reason < COHORT_DROP__COUNT);
    return drop_names[reason];
}

const char *sim_atk_kind_name(sim_atk_kind_t k)
{
    COHORT_ASSERT(k < SIM_ATK__COUNT);
    return kind_names[k];
}

bool sim_atk_exact(sim_atk_kind_t k)
{
    return k == SIM_ATK_REPLAY || k == SIM_ATK_BURST;
}

uint8_t sim_attack_mode_flags(const sim_world_t *w)
{
    cohort_security_t s = w->scn.cfg.security;
    return s == COHORT_SECURITY_NONE   ? 0
           : s == COHORT_SECURITY_AUTH ? CO_FLAG_SECURED
                                       : CO_FLAG_SECURED | CO_FLAG_ENCRYPTED;
}

/* The drop the wire rules give before the tag is checked, in the order the
 * receive path applies them (co_header_decode, the group and self filters,
 * co_crypto_open up to the tag), or -1 when the datagram reaches the tag.
 * Written from wire.h and docs/security.md, not from the code it checks. */
static int pre_tag_reason(const sim_world_t *w, size_t r, const uint8_t *d,
                          size_t len)
{
    const sim_node_t *n = &w->node[r];
    uint8_t mode = sim_attack_mode_flags(w);
    if (len < CO_HEADER_BYTES)
        return COHORT_DROP_TRUNCATED;
    if (d[0] != CO_MAGIC0 || d[1] != CO_MAGIC1)
        return COHORT_DROP_BAD_MAGIC;
    if (d[2] != CO_WIRE_VERSION)
        return COHORT_DROP_BAD_VERSION;
    bool known = (d[3] >= CO_TYPE_DATA && d[3] <= CO_TYPE_PARITY) ||
                 (d[3] >= CO_TYPE_PREPARE && d[3] <= CO_TYPE_PROBE) ||
                 d[3] == CO_TYPE_FORWARD || d[3] == CO_TYPE_PATH ||
                 d[3] == CO_TYPE_XFER || d[3] == CO_TYPE_RPC;
    if (!known)
        return COHORT_DROP_BAD_TYPE;
    uint8_t flags = d[4];
    size_t body = co_get16(d + 6);
    size_t want = CO_HEADER_BYTES + body +
                  (flags & CO_FLAG_SECURED ? CO_TRAILER_BYTES : 0);
    if (len < want)
        return COHORT_DROP_TRUNCATED;
    if ((flags & ~CO_FLAG__KNOWN) != 0 ||
        ((flags & (CO_FLAG_ENCRYPTED | CO_FLAG_AES256GCM | CO_FLAG_NOAES)) !=
             0 &&
         (flags & CO_FLAG_SECURED) == 0) ||
        ((flags & CO_FLAG_AES256GCM) && (flags & CO_FLAG_NOAES)))
        return COHORT_DROP_BAD_FIELD;
    bool empty = d[3] == CO_TYPE_LEAVE || d[3] == CO_TYPE_PROBE;
    if (co_get32(d + 12) == 0 || co_get32(d + 16) == 0 ||
        co_get64(d + 20) == 0 || (empty && body != 0) ||
        (d[3] == CO_TYPE_INSTALLED && body != 8))
        return COHORT_DROP_BAD_FIELD;
    if (len > want)
        return COHORT_DROP_BAD_FIELD;
    if (co_get32(d + 8) != n->group_id)
        return COHORT_DROP_OTHER_GROUP;
    if (co_get32(d + 12) == n->member_id)
        return COHORT_DROP_SELF;
    if ((flags & (CO_FLAG_SECURED | CO_FLAG_ENCRYPTED)) != mode)
        return COHORT_DROP_SECURITY_MODE;
    /* Either cipher is opened, where the CPU can (sim_scn.aes_mask), and
     * the node does not act as one that cannot (noaes_mask). */
    if ((flags & CO_FLAG_AES256GCM) &&
        (!co_crypto_cipher_available(COHORT_CIPHER_AES256GCM) ||
         sim_node_aes_off(w, r)))
        return COHORT_DROP_SECURITY_MODE;
    if (mode != 0 && d[5] != w->scn.cfg.key_id)
        return COHORT_DROP_KEY_UNKNOWN;
    return -1;
}

/* The one reason the core must count, or -1 for a recorded datagram that
 * reaches the tag sealed with the receiver's key (replay rules apply). */
static int expected_reason(const sim_world_t *w, size_t r, sim_atk_kind_t k,
                           size_t emitter, const uint8_t *d, size_t len)
{
    int pre = pre_tag_reason(w, r, d, len);
    if (pre >= 0)
        return pre;
    if (sim_attack_mode_flags(w) == 0)
        return sim_atk_exact(k) ? -1 : COHORT_DROP_AUTH; /* no forging */
    if (!sim_atk_exact(k))
        return COHORT_DROP_AUTH;
    const sim_node_t *e = &w->node[emitter], *n = &w->node[r];
    return memcmp(e->key, n->key, sizeof n->key) == 0 ? -1
                                                       : COHORT_DROP_AUTH;
}

static void describe_delta(const uint64_t *delta, char *buf, size_t room)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < COHORT_DROP__COUNT && used + 1 < room; i++) {
        if (delta[i] == 0)
            continue;
        int n = snprintf(buf + used, room - used, "%s%s x%llu",
                         used ? ", " : "", sim_drop_name(i),
                         (unsigned long long)delta[i]);
        if (n < 0)
            return;
        used += (size_t)n < room - used ? (size_t)n : room - used - 1;
    }
    if (used == 0)
        snprintf(buf, room, "no drop");
}

/* Drops that may follow when a recorded datagram is taken as new: its
 * records can be duplicates, beyond the window, or find the queue full. */
static bool record_level(int reason, bool xfer)
{
    /* A state transfer datagram (XFER) is for one member, one life and
     * one view: a copy that reaches another member, or comes after a view
     * change, is dropped as BAD_FIELD (state.c, co_state_recv). */
    if (xfer && reason == COHORT_DROP_BAD_FIELD)
        return true;
    return reason == COHORT_DROP_DUPLICATE ||
           reason == COHORT_DROP_NO_BUFFER ||
           reason == COHORT_DROP_QUEUE_FULL ||
           reason == COHORT_DROP_UNKNOWN_MEMBER;
}

/* Returns whether a recorded datagram was taken as new. */
static bool judge_drops(sim_world_t *w, size_t r, sim_atk_kind_t kind,
                        int want, bool xfer, const uint64_t *delta)
{
    uint64_t total = 0;
    for (int i = 0; i < COHORT_DROP__COUNT; i++)
        total += delta[i];
    char got[256];
    if (want >= 0) {
        /* The security warning the drop raises may itself find the event
         * queue full (counted as QUEUE_FULL): that is about the queue, not
         * the datagram. */
        uint64_t queue = want == COHORT_DROP_QUEUE_FULL
                             ? 0 : delta[COHORT_DROP_QUEUE_FULL];
        if (total - queue == 1 && delta[want] == 1)
            return false;
        describe_delta(delta, got, sizeof got);
        sim_fail(w, "attacker: n%zu counted %s for a %s datagram; the wire "
                    "rules say it is dropped as %s%s", r, got,
                 sim_atk_kind_name(kind), sim_drop_name(want),
                 total == 0 ? " (it was ACCEPTED)" : "");
        return false;
    }
    /* Secured: a replay is refused by the packet_seq window (REPLAY);
     * unsecured: the same window counts it as DUPLICATE. */
    bool secured = sim_attack_mode_flags(w) != 0;
    int refused = secured ? COHORT_DROP_REPLAY : COHORT_DROP_DUPLICATE;
    uint64_t packet = delta[refused] + delta[COHORT_DROP_STALE];
    bool ok = true;
    for (int i = 0; i < COHORT_DROP__COUNT; i++)
        if (delta[i] && i != refused && i != COHORT_DROP_STALE &&
            !record_level(i, xfer))
            ok = false;
    if (secured && packet > 0 && total != 1)
        ok = false;
    if (!ok) {
        describe_delta(delta, got, sizeof got);
        sim_fail(w, "attacker: n%zu counted %s for a recorded datagram "
                    "(%s); expected REPLAY, STALE, or none", r, got,
                 sim_atk_kind_name(kind));
        return false;
    }
    return secured ? packet == 0
                   : delta[COHORT_DROP_STALE] == 0 &&
                         delta[COHORT_DROP_DUPLICATE] == 0;
}

static bool listed(const cohort_member_t *l, size_t n, cohort_member_t m)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].id == m.id && l[i].incarnation == m.incarnation)
            return true;
    return false;
}

static bool live(const sim_world_t *w, cohort_member_t m, size_t *k,
                 uint32_t *g)
{
    if (!sim_identity_of(w, m, k, g))
        return false;
    const sim_node_t *n = &w->node[*k];
    return n->member && n->up && n->gen == *g;
}

static void judge_added(sim_world_t *w, size_t r, bool exact,
                        cohort_member_t m, size_t emitter, uint64_t seq)
{
    size_t k;
    uint32_t g;
    if (!exact) {
        sim_fail(w, "attacker: an altered or forged datagram made n%zu list "
                    "member %08x/%u", r, m.id, m.incarnation);
    } else if (!sim_identity_of(w, m, &k, &g)) {
        sim_fail(w, "attacker: a replay made n%zu list %08x/%u, which no "
                    "node ever was", r, m.id, m.incarnation);
    } else if (live(w, m, &k, &g)) {
        w->atk.early_joins++;
        sim_trace(w, "atk  n%zu: a replay introduced live n%zu gen %u", r,
                  k, g);
    } else {
        bool knew = (w->node[r].knew[k] >> g) & 1u;
        /* Packet numbers compare within one sender's life only: a copy
         * of another member's datagram (a late COMMIT of a view that
         * names this life, which r must then install as agreed) says
         * nothing about how old this life's news is. */
        bool old = knew && emitter == k &&
                   seq < w->node[r].heard_seq[k * SIM_MAX_GENS + g];
        w->atk.ghosts++;
        w->atk.revived += knew;
        w->atk.revived_old += old;
        sim_trace(w, "atk  n%zu: GHOST: a replay brought back n%zu gen %u, "
                     "which is gone (%s)", r, k, g,
                  old    ? "it had dropped it; packet_seq below one it heard"
                  : knew ? "it had dropped it"
                         : "it never knew it");
        /* Reviving an incarnation the receiver dropped with a datagram
         * older than one it had heard is a core bug (tombstones forbid
         * it). A newer one it never heard, or an incarnation it never
         * knew, looks like a member back from a partition until agreed
         * views exist, so only --strict-replay fails on those. */
        if (w->opts.strict_replay || old)
            sim_fail(w, "replay revival: a recorded datagram of n%zu gen %u "
                        "(%s) made n%zu list it again (docs/security.md: "
                        "replays to a receiver that no longer tracks it)",
                     k, g, w->node[k].up ? "replaced" : "down", r);
    }
}

/* r's installed view names another life of m's id: r took that life
 * back in to complete the view's messages (a view change it was applying
 * named a member that restarted meanwhile, vsync.c adopt), which sets the
 * newer life aside until the older one is out. */
static bool view_names_other_life(const sim_world_t *w, size_t r,
                                  cohort_member_t m)
{
    cohort_member_t v[SIM_MAX_NODES];
    size_t n = co_core_view(w->node[r].core, NULL, v, SIM_MAX_NODES);
    for (size_t i = 0; i < n && i < SIM_MAX_NODES; i++)
        if (v[i].id == m.id && v[i].incarnation != m.incarnation)
            return true;
    return false;
}

static void judge_removed(sim_world_t *w, size_t r, bool exact,
                          cohort_member_t m)
{
    size_t k;
    uint32_t g;
    if (exact && view_names_other_life(w, r, m))
        return;
    if (!exact)
        sim_fail(w, "attacker: an altered or forged datagram made n%zu drop "
                    "member %08x/%u", r, m.id, m.incarnation);
    else if (live(w, m, &k, &g))
        sim_fail(w, "attacker: a replay made n%zu drop live member n%zu gen "
                    "%u", r, k, g);
}

static void judge_members(sim_world_t *w, size_t r, bool exact,
                          size_t emitter, uint64_t seq,
                          const cohort_member_t *before,
                          size_t nb, const cohort_member_t *after, size_t na)
{
    for (size_t i = 1; i < na && !w->failed; i++)
        if (!listed(before, nb, after[i]))
            judge_added(w, r, exact, after[i], emitter, seq);
    for (size_t i = 1; i < nb && !w->failed; i++)
        if (!listed(after, na, before[i]))
            judge_removed(w, r, exact, before[i]);
}


static size_t members_of(const sim_node_t *n, cohort_member_t *buf)
{
    size_t k = co_core_members(n->core, buf, SIM_MEMBER_LIST_MAX);
    return k < SIM_MEMBER_LIST_MAX ? k : SIM_MEMBER_LIST_MAX;
}

void sim_atk_check_before(const sim_world_t *w, size_t r,
                          sim_atk_kind_t kind, size_t emitter,
                          const uint8_t *d, size_t len, sim_atk_snap_t *snap)
{
    const sim_node_t *n = &w->node[r];
    COHORT_ASSERT(n->up && kind < SIM_ATK__COUNT);
    snap->dst = r;
    snap->kind = kind;
    snap->exact = sim_atk_exact(kind);
    snap->want = expected_reason(w, r, kind, emitter, d, len);
    snap->seq = len >= 28 ? co_get64(d + 20) : 0;
    snap->xfer = len >= 4 && d[3] == CO_TYPE_XFER;
    snap->emitter = emitter;
    snap->n_members = members_of(n, snap->members);
    memcpy(snap->drops, co_core_stats(n->core)->drops, sizeof snap->drops);
}

void sim_atk_check_after(sim_world_t *w, const sim_atk_snap_t *snap)
{
    sim_attack_t *a = &w->atk;
    const sim_node_t *n = &w->node[snap->dst];
    const uint64_t *now = co_core_stats(n->core)->drops;
    uint64_t delta[COHORT_DROP__COUNT];
    for (int i = 0; i < COHORT_DROP__COUNT; i++) {
        delta[i] = now[i] - snap->drops[i];
        a->drops[i] += delta[i];
    }
    if (judge_drops(w, snap->dst, snap->kind, snap->want, snap->xfer, delta))
        a->accepted++;
    cohort_member_t after[SIM_MEMBER_LIST_MAX];
    size_t na = members_of(n, after);
    if (!w->failed)
        judge_members(w, snap->dst, snap->exact, snap->emitter, snap->seq,
                      snap->members, snap->n_members, after, na);
}

/* ------------------------------------------------------------------ */
/* End of run                                                          */
/* ------------------------------------------------------------------ */

void sim_attack_finish(sim_world_t *w)
{
    const sim_attack_t *a = &w->atk;
    if (!a->on)
        return;
    uint64_t dropped = 0;
    for (int i = 0; i < COHORT_DROP__COUNT; i++)
        dropped += a->drops[i];
    if (w->opts.verbose) {
        char got[512];
        describe_delta(a->drops, got, sizeof got);
        sim_trace(w, "atk  summary: %llu arrived, %llu taken as new, "
                     "%llu deliveries followed, %llu introduced a live "
                     "member, %llu ghosts (%llu revived, %llu of them by "
                     "an older packet_seq), %llu unicast datagrams "
                     "stolen; drops: %s",
                  (unsigned long long)a->arrived,
                  (unsigned long long)a->accepted,
                  (unsigned long long)a->messages,
                  (unsigned long long)a->early_joins,
                  (unsigned long long)a->ghosts,
                  (unsigned long long)a->revived,
                  (unsigned long long)a->revived_old,
                  (unsigned long long)a->stolen, got);
    }
    /* A run long enough to matter must show the attack in the counters:
     * otherwise it went nowhere and proved nothing. */
    bool expect = w->scn.attack_strict || a->arrived >= 20;
    if (expect && dropped == 0)
        sim_fail(w, "attacker: %llu of its datagrams reached running cores "
                    "and none was counted as a drop: the attack did not "
                    "happen", (unsigned long long)a->arrived);
}
