/*
 * check.c - the properties every run must keep.
 *
 * Continuously, as events are pulled and after every core call:
 *  - integrity: every delivered payload parses, has the length, checksum
 *    and contents its sender wrote, and names the sender the event names;
 *    a well-formed message its sender never sent is reported as forged;
 *  - isolation: nothing the outsider sends is delivered to a member,
 *    nothing from the group is delivered to the outsider, and no member
 *    list or member event ever names a node of the other group (the
 *    misfit, of the members' group but with a smaller max_datagram, is
 *    heard by them: only its deliveries and views are held apart);
 *  - at most once: no receiver incarnation gets one message twice
 *    (UNRELIABLE and FIFO);
 *  - self-delivery: a member delivers its own messages only when its core
 *    was configured with self_delivery (only with --vs); they are then
 *    checked like any other (order, at most once), by vs_check too;
 *  - FIFO order: per (sender incarnation, receiver incarnation) FIFO
 *    numbers strictly increase, and a delivery never skips a message that
 *    was owed to the receiver (see sim_owed), since it could never arrive
 *    afterwards without breaking the order;
 *  - member events alternate JOINED, LEFT per member incarnation; in
 *    `attack` (sim_check_member_events) each member sees every other join
 *    exactly once and no one leave;
 *  - memory: co_core_memory_bytes() never exceeds sim_memory_bound().
 * After the heal (sim_converged): every owed message has arrived, every
 * view lists exactly the live members, every sender is drained, no member
 * still holds buffered bytes, and no send is stuck behind flow control.
 * The stats checks compare the core's counters with what the simulator
 * saw. What the attacker's own datagrams may do is judged in
 * attack_check.c.
 */
#include <stdio.h>
#include <string.h>

#include "co_assert.h"
#include "sim.h"

/* ------------------------------------------------------------------ */
/* Identities                                                          */
/* ------------------------------------------------------------------ */

/* Insertion sort by (id, node): a few hundred entries, once per run. */
void sim_identity_index(sim_world_t *w)
{
    for (size_t i = 0; i < w->n_nodes; i++) {
        w->by_id[i].id = w->node[i].member_id;
        w->by_id[i].node = (uint32_t)i;
        for (size_t j = i; j > 0 && w->by_id[j - 1].id > w->by_id[j].id;
             j--) {
            uint32_t id = w->by_id[j].id, node = w->by_id[j].node;
            w->by_id[j] = w->by_id[j - 1];
            w->by_id[j - 1].id = id;
            w->by_id[j - 1].node = node;
        }
    }
}

/* Called for every listed member after every core call: a binary search
 * keeps that O(n log n) per call in a group of 128. */
bool sim_identity_of(const sim_world_t *w, cohort_member_t m, size_t *node,
                     uint32_t *gen)
{
    size_t lo = 0, hi = w->n_nodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->by_id[mid].id < m.id)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < w->n_nodes && w->by_id[i].id == m.id; i++) {
        const sim_node_t *n = &w->node[w->by_id[i].node];
        for (uint32_t g = 0; g <= n->gen && g < SIM_MAX_GENS; g++) {
            if (n->incarnation[g] == m.incarnation) {
                *node = w->by_id[i].node;
                *gen = g;
                return true;
            }
        }
    }
    return false;
}

/* listed[k] (n_nodes entries): whether observer's installed view names
 * node k's current incarnation; its view id into *view when given.
 * Returns the view's size (0 before the first). Delivery follows views,
 * so obligations and convergence do too. */
static size_t viewed_nodes(const sim_world_t *w, size_t observer,
                           bool *listed, uint64_t *view)
{
    const sim_node_t *o = &w->node[observer];
    cohort_member_t buf[SIM_MEMBER_LIST_MAX];
    memset(listed, 0, w->n_nodes * sizeof *listed);
    if (view)
        *view = 0;
    if (!o->up)
        return 0;
    size_t n = co_core_view(o->core, view, buf, SIM_MEMBER_LIST_MAX);
    size_t shown = n > SIM_MEMBER_LIST_MAX ? SIM_MEMBER_LIST_MAX : n;
    for (size_t i = 0; i < shown; i++) {
        size_t k;
        uint32_t g;
        if (sim_identity_of(w, buf[i], &k, &g) && w->node[k].up &&
            g == w->node[k].gen)
            listed[k] = true;
    }
    return n;
}

/* Subject is a member of observer's installed view (view id into *view
 * when given). */
static bool in_view_of(const sim_world_t *w, size_t observer, size_t subject,
                       uint64_t *view)
{
    const sim_node_t *o = &w->node[observer];
    const sim_node_t *s = &w->node[subject];
    cohort_member_t buf[SIM_MEMBER_LIST_MAX];
    if (!o->up || !s->up)
        return false;
    uint64_t id = 0;
    size_t n = co_core_view(o->core, &id, buf, SIM_MEMBER_LIST_MAX);
    if (view)
        *view = id;
    if (n > SIM_MEMBER_LIST_MAX)
        n = SIM_MEMBER_LIST_MAX;
    for (size_t i = 0; i < n; i++)
        if (buf[i].id == s->member_id &&
            buf[i].incarnation == sim_incarnation(s))
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* Obligations                                                         */
/* ------------------------------------------------------------------ */

void sim_check_sent(sim_world_t *w, size_t s, const sim_payload_t *p)
{
    sim_node_t *sn = &w->node[s];
    COHORT_ASSERT(p->index == w->n_msgs[s]);
    COHORT_ASSERT(w->n_msgs[s] < w->scn.msgs_per_node);
    sim_msg_t *m = &w->msgs[s][w->n_msgs[s]++];
    memset(m, 0, sizeof *m);
    m->sent_ns = w->now_ns;
    m->gen = p->gen;
    m->fifo_seq = p->fifo_seq;
    m->len = p->len;
    m->mode = p->mode;
    if (w->gen_first[s][p->gen] == SIZE_MAX)
        w->gen_first[s][p->gen] = p->index;
    if (!sn->member || (!sim_reliable(p->mode) && !w->scn.lossless))
        return;
    /* A message sent while sends are held, or fed out over time, goes out
     * in a view not known yet: what it is owed is the view checker's
     * (vs_check) to say. */
    if (co_core_holding(sn->core) || co_core_feeding(sn->core))
        return;
    (void)co_core_view(sn->core, &m->view_id, NULL, 0);
    /* Owed to every member of the sender's view that is in that same
     * view now (virtual synchrony: delivered in the view it was sent
     * in); a member that joins later starts after this message. On a
     * lossless network even UNRELIABLE messages are owed: best effort
     * with nothing lost must be perfect. */
    bool known[SIM_MAX_NODES];
    uint64_t sv = 0, rv = 0;
    viewed_nodes(w, s, known, &sv);
    for (size_t r = 0; r < w->scn.members; r++) {
        if (r == s || !known[r] || !in_view_of(w, r, s, &rv) || sv != rv ||
            co_core_holding(w->node[r].core))
            continue;
        m->owed_any = true;
        m->owed_gen1[r] = (uint8_t)(w->node[r].gen + 1);
    }
}

bool sim_owed(const sim_world_t *w, size_t s, const sim_msg_t *m, size_t r)
{
    const sim_node_t *rn = &w->node[r];
    const sim_node_t *sn = &w->node[s];
    if (m->owed_gen1[r] == 0)
        return false;
    if (!rn->up || rn->gen + 1 != m->owed_gen1[r])
        return false;
    /* A sender that crashed or left owes nothing more. */
    if (!sn->up || sn->gen != m->gen)
        return false;
    /* Either side dropped the other since: the protocol may give up. */
    return w->absent_ns[r][s] < m->sent_ns && w->absent_ns[s][r] < m->sent_ns;
}

void sim_check_superseded(sim_world_t *w, size_t r, uint64_t view)
{
    uint8_t g1 = (uint8_t)(w->node[r].gen + 1);
    for (size_t s = 0; s < w->scn.members; s++)
        for (size_t i = 0; i < w->n_msgs[s]; i++) {
            sim_msg_t *m = &w->msgs[s][i];
            if (sim_ordered(m->mode) && m->view_id == view &&
                m->owed_gen1[r] == g1 && m->got_gen1[r] != g1)
                m->owed_gen1[r] = 0;
        }
}

/* ------------------------------------------------------------------ */
/* Deliveries                                                          */
/* ------------------------------------------------------------------ */

/* A gap is a message of the same sending view that was owed and not
 * delivered before this one: a receiver that moved to another view than
 * the sender did owes nothing of the old one beyond the cut its own
 * transition agreed on (virtual synchrony; vs_check checks that). */
static void check_fifo(sim_world_t *w, size_t r, size_t s, const sim_msg_t *m,
                       size_t index, uint64_t view)
{
    sim_node_t *rn = &w->node[r];
    sim_rx_track_t *t = &rn->rx[s * SIM_MAX_GENS + m->gen];
    size_t from = t->active ? t->last_index + 1 : w->gen_first[s][m->gen];
    if (t->active && m->fifo_seq <= t->last_seq) {
        sim_fail(w, "FIFO order: n%zu delivered n%zu#%zu (%s, reliable %u) "
                    "after reliable %u of the same incarnation", r, s, index,
                 sim_mode_name(m->mode), m->fifo_seq, t->last_seq);
        return;
    }
    for (size_t i = from; i < index; i++) {
        const sim_msg_t *o = &w->msgs[s][i];
        if (o->gen != m->gen || !sim_reliable(o->mode) || o->view_id != view)
            continue;
        if (o->got_gen1[r] != rn->gen + 1 && sim_owed(w, s, o, r)) {
            sim_fail(w, "FIFO gap: n%zu delivered n%zu#%zu (%s %u) but "
                        "never n%zu#%zu (%s %u, sent at %.6fs while both "
                        "knew each other)", r, s, index,
                     sim_mode_name(m->mode), m->fifo_seq, s, i,
                     sim_mode_name(o->mode), o->fifo_seq,
                     (double)o->sent_ns / 1e9);
            return;
        }
    }
    t->active = true;
    t->last_seq = m->fifo_seq;
    t->last_index = index;
    uint64_t lat = w->now_ns - m->sent_ns;
    if (sim_owed(w, s, m, r)) {
        w->tot.owed_latency_sum_ns += lat;
        w->tot.owed_deliveries++;
        if (lat > w->tot.owed_latency_max_ns)
            w->tot.owed_latency_max_ns = lat;
    }
    if (lat > w->tot.max_fifo_latency_ns)
        w->tot.max_fifo_latency_ns = lat;
}

/* The registry entry a delivered payload refers to, or NULL (failed). */
static sim_msg_t *sent_entry(sim_world_t *w, size_t r,
                             const cohort_event_t *ev, const sim_payload_t *p)
{
    size_t s = p->node;
    const sim_node_t *sn = &w->node[s];
    if (ev->u.message.sender.id != sn->member_id ||
        p->gen > sn->gen ||
        ev->u.message.sender.incarnation != sn->incarnation[p->gen]) {
        sim_fail(w, "forged: n%zu got n%zu#%u attributed to member %08x/%u, "
                    "not %08x/%u", r, s, p->index, ev->u.message.sender.id,
                 ev->u.message.sender.incarnation, sn->member_id,
                 p->gen <= sn->gen ? sn->incarnation[p->gen] : 0);
        return NULL;
    }
    if (p->index >= w->n_msgs[s]) {
        sim_fail(w, "forged: n%zu delivered n%zu#%u which was never "
                    "accepted by co_core_send", r, s, p->index);
        return NULL;
    }
    sim_msg_t *m = &w->msgs[s][p->index];
    if (m->gen != p->gen || m->fifo_seq != p->fifo_seq || m->len != p->len ||
        m->mode != p->mode || ev->u.message.mode != p->mode) {
        sim_fail(w, "forged: n%zu delivered n%zu#%u with the wrong identity "
                    "or mode (mode %d)", r, s, p->index,
                 (int)ev->u.message.mode);
        return NULL;
    }
    return m;
}

static void check_message(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_node_t *rn = &w->node[r];
    sim_payload_t p;
    const char *bad = sim_payload_check(ev->u.message.data, ev->u.message.len,
                                        &p);
    if (bad) {
        sim_fail(w, "n%zu delivered a corrupted message (%zu bytes from "
                    "member %08x): %s", r, ev->u.message.len,
                 ev->u.message.sender.id, bad);
        return;
    }
    sim_trace(w, "app  n%zu: got n%u#%u %s %u gen %u, %uB, order %llu%s", r,
              p.node, p.index, sim_mode_name(p.mode), p.fifo_seq, p.gen,
              p.len, (unsigned long long)ev->u.message.order,
              ev->u.message.flags & COHORT_MESSAGE_TRANSITIONAL
                  ? " transitional" : "");
    if (p.node >= w->n_nodes) {
        sim_fail(w, "n%zu delivered a message naming node %u", r, p.node);
        return;
    }
    if (w->node[p.node].member != rn->member) {
        sim_fail(w, "isolation: n%zu (%s) delivered n%u#%u from the %s", r,
                 rn->member ? "member" : "outsider", p.node, p.index,
                 rn->member ? "outsider" : "group");
        return;
    }
    sim_msg_t *m = sent_entry(w, r, ev, &p);
    if (m == NULL)
        return;
    if (m->got_gen1[r] == rn->gen + 1) {
        sim_fail(w, "duplicate: n%zu delivered n%u#%u (%s) twice", r, p.node,
                 p.index, sim_mode_name(p.mode));
        return;
    }
    if (p.node == r && p.gen == rn->gen && !w->scn.self_delivery) {
        sim_fail(w, "self-delivery: n%zu delivered its own n%u#%u though "
                    "its core was configured with self_delivery 0", r,
                 p.node, p.index);
        return;
    }
    m->got_gen1[r] = (uint8_t)(rn->gen + 1);
    m->got_views[r] = rn->app_views;
    if (sim_reliable(p.mode))
        check_fifo(w, r, p.node, m, p.index, ev->u.message.view_id);
    if (!w->failed)
        sim_vs_delivered(w, r, ev, &p);
    if (!w->failed)
        sim_total_delivered(w, r, ev, &p);
    if (!w->failed && sim_ordered(p.mode))
        sim_state_delivered(w, r, ev, &p);
}

static void check_member_event(sim_world_t *w, size_t r,
                               const cohort_event_t *ev)
{
    sim_node_t *rn = &w->node[r];
    size_t k;
    uint32_t g;
    bool joined = ev->type == COHORT_EVENT_MEMBER_JOINED;
    if (!sim_identity_of(w, ev->u.member.member, &k, &g)) {
        sim_fail(w, "n%zu: %s event for unknown member %08x/%u", r,
                 joined ? "JOINED" : "LEFT", ev->u.member.member.id,
                 ev->u.member.member.incarnation);
        return;
    }
    if (!sim_same_group(w, k, r)) {
        sim_fail(w, "isolation: n%zu saw n%zu of the other group %s", r, k,
                 joined ? "join" : "leave");
        return;
    }
    uint32_t bit = 1u << g;
    if (joined == ((rn->joined[k] & bit) != 0)) {
        sim_fail(w, "n%zu: %s for n%zu gen %u twice in a row", r,
                 joined ? "JOINED" : "LEFT", k, g);
        return;
    }
    rn->joined[k] ^= bit;
    if (joined) {
        rn->joined_ev[k]++;
        rn->knew[k] |= bit;
    } else {
        rn->left_ev[k]++;
    }
    sim_trace(w, "app  n%zu: n%zu gen %u %s (reason %d)", r, k, g,
              joined ? "joined" : "left", joined ? 0 : ev->u.member.reason);
}

void sim_check_event(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_node_t *rn = &w->node[r];
    sim_hash_u64(w, w->now_ns);
    sim_hash_u64(w, (uint64_t)r << 8 | (uint64_t)ev->type);
    switch (ev->type) {
    case COHORT_EVENT_MESSAGE:
        if ((unsigned)ev->u.message.mode > COHORT_SAFE) {
            sim_fail(w, "n%zu: message event with mode %d", r,
                     (int)ev->u.message.mode);
            return;
        }
        sim_hash(w, ev->u.message.data, ev->u.message.len);
        rn->acc_pulled[ev->u.message.mode]++;
        w->tot.delivered[ev->u.message.mode]++;
        if (ev->u.message.flags & COHORT_MESSAGE_TRANSITIONAL)
            w->tot.transitional++;
        check_message(w, r, ev);
        return;
    case COHORT_EVENT_MEMBER_JOINED:
    case COHORT_EVENT_MEMBER_LEFT:
        check_member_event(w, r, ev);
        return;
    case COHORT_EVENT_VIEW:
        sim_view_event(w, r, ev);
        return;
    case COHORT_EVENT_WARNING:
        sim_trace(w, "app  n%zu: warning %d %s", r, ev->u.warning.code,
                  ev->u.warning.text ? ev->u.warning.text : "(null)");
        if (ev->u.warning.code == COHORT_ERR_EXCLUDED)
            sim_view_excluded(w, r, ev);
        return;
    default:
        sim_fail(w, "n%zu: event of unknown type %d", r, (int)ev->type);
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Member lists and memory, after every core call                      */
/* ------------------------------------------------------------------ */

/* Also marks listed[k] for every node k whose current incarnation r
 * lists (n_nodes entries, cleared by the caller). */
static void check_list(sim_world_t *w, size_t r, bool *listed)
{
    sim_node_t *rn = &w->node[r];
    cohort_member_t buf[SIM_MEMBER_LIST_MAX];
    size_t n = co_core_members(rn->core, buf, SIM_MEMBER_LIST_MAX);
    if (n == 0 || n > w->scn.cfg.max_members || n > SIM_MEMBER_LIST_MAX) {
        sim_fail(w, "n%zu lists %zu members (max_members %zu)", r, n,
                 w->scn.cfg.max_members);
        return;
    }
    size_t bytes = n * sizeof buf[0];
    if (n == rn->seen_n && rn->seen_epoch == w->roster_epoch &&
        memcmp(buf, rn->seen_list, bytes) == 0) {
        memcpy(listed, rn->seen_listed, w->n_nodes * sizeof *listed);
        return;
    }
    if (buf[0].id != rn->member_id ||
        buf[0].incarnation != sim_incarnation(rn)) {
        sim_fail(w, "n%zu: member list does not start with itself", r);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        size_t k;
        uint32_t g;
        if (!sim_identity_of(w, buf[i], &k, &g)) {
            sim_fail(w, "n%zu lists unknown member %08x/%u", r, buf[i].id,
                     buf[i].incarnation);
            return;
        }
        if (!sim_same_group(w, k, r)) {
            sim_fail(w, "isolation: n%zu lists n%zu of the other group", r, k);
            return;
        }
        if (w->node[k].up && g == w->node[k].gen)
            listed[k] = true;
    }
    memcpy(rn->seen_list, buf, bytes);
    memcpy(rn->seen_listed, listed, w->n_nodes * sizeof *listed);
    rn->seen_n = n;
    rn->seen_epoch = w->roster_epoch;
}

void sim_check_node(sim_world_t *w, size_t r)
{
    sim_node_t *rn = &w->node[r];
    bool listed[SIM_MAX_NODES];
    if (!rn->up || w->failed)
        return;
    memset(listed, 0, w->n_nodes * sizeof listed[0]);
    check_list(w, r, listed);
    if (rn->member && !w->failed) {
        bool inview[SIM_MAX_NODES];
        viewed_nodes(w, r, inview, NULL);
        for (size_t k = 0; k < w->scn.members; k++)
            if (k != r && !inview[k])
                w->absent_ns[r][k] = w->now_ns;
    }
    size_t mem = co_core_memory_bytes(rn->core);
    if (mem > rn->peak_mem)
        rn->peak_mem = mem;
    if (mem > w->tot.peak_mem)
        w->tot.peak_mem = mem;
    if (mem > w->mem_bound)
        sim_fail(w, "memory: n%zu holds %zu bytes, bound %zu", r, mem,
                 w->mem_bound);
}

/*
 * What co_core_memory_bytes() may report, from the configuration's own
 * contract (include/cohort.h, core.h):
 *  - the send window (send_window_bytes, per-record overhead included),
 *    plus one message taken while the window was full (a fragmented
 *    message is accepted whole and fed out as room appears: max_message);
 *  - per other member (max_members - 1) a receive buffer of
 *    recv_buffer_bytes for records held out of order, plus one message
 *    being reassembled (max_message), plus its store of delivered records
 *    not yet stable (bounded by send_window_bytes: a sender has no more
 *    unstable bytes out);
 *  - per member (max_members, this one's own included) a TOTAL/SAFE hold
 *    of recv_buffer_bytes, plus the one message that crosses it;
 *  - the event queue's message bytes, bounded by recv_buffer_bytes, or one
 *    message larger than that when it is alone in the queue.
 * Nothing here grows with traffic or time; a core that leaked a buffer or
 * admitted past a budget would cross it.
 */
size_t sim_memory_bound(const co_core_config_t *c)
{
    size_t big = c->max_message;
    size_t events = c->recv_buffer_bytes > big ? c->recv_buffer_bytes : big;
    return c->send_window_bytes + big +
           (c->max_members - 1) *
               (c->recv_buffer_bytes + big + c->send_window_bytes) +
           c->max_members * (c->recv_buffer_bytes + big) + events;
}

/* ------------------------------------------------------------------ */
/* Counters                                                            */
/* ------------------------------------------------------------------ */

static void check_counts(sim_world_t *w, size_t r,
                         const struct cohort_stats *st)
{
    const sim_node_t *rn = &w->node[r];
    uint64_t sum = 0;
    for (int i = 0; i < COHORT_DROP__COUNT; i++)
        sum += st->drops[i];
    if (sum != st->drops_total)
        sim_fail(w, "stats n%zu: drops_total %llu != sum of drops %llu", r,
                 (unsigned long long)st->drops_total, (unsigned long long)sum);
    for (int m = 0; m < 3 && !w->failed; m++) {
        if (st->messages_sent[m] != rn->acc_sent[m])
            sim_fail(w, "stats n%zu: messages_sent[%d] %llu, accepted %llu",
                     r, m, (unsigned long long)st->messages_sent[m],
                     (unsigned long long)rn->acc_sent[m]);
        else if (st->messages_delivered[m] < rn->acc_pulled[m] ||
                 st->messages_delivered[m] >
                     rn->acc_pulled[m] + w->scn.cfg.event_queue_len)
            sim_fail(w, "stats n%zu: messages_delivered[%d] %llu, pulled %llu",
                     r, m, (unsigned long long)st->messages_delivered[m],
                     (unsigned long long)rn->acc_pulled[m]);
    }
    if (!w->failed && st->messages_sent_safe != rn->acc_sent[COHORT_SAFE])
        sim_fail(w, "stats n%zu: messages_sent_safe %llu, accepted %llu", r,
                 (unsigned long long)st->messages_sent_safe,
                 (unsigned long long)rn->acc_sent[COHORT_SAFE]);
    else if (!w->failed &&
             (st->messages_delivered_safe < rn->acc_pulled[COHORT_SAFE] ||
              st->messages_delivered_safe >
                  rn->acc_pulled[COHORT_SAFE] + w->scn.cfg.event_queue_len))
        sim_fail(w, "stats n%zu: messages_delivered_safe %llu, pulled %llu",
                 r, (unsigned long long)st->messages_delivered_safe,
                 (unsigned long long)rn->acc_pulled[COHORT_SAFE]);
    if (!w->failed && st->send_would_block != rn->acc_again)
        sim_fail(w, "stats n%zu: send_would_block %llu, AGAIN seen %llu", r,
                 (unsigned long long)st->send_would_block,
                 (unsigned long long)rn->acc_again);
}

static void check_traffic(sim_world_t *w, size_t r,
                          const struct cohort_stats *st)
{
    const sim_node_t *rn = &w->node[r];
    const co_core_config_t *c = &w->scn.cfg;
    if (st->datagrams_received > rn->acc_fed)
        sim_fail(w, "stats n%zu: datagrams_received %llu > fed %llu", r,
                 (unsigned long long)st->datagrams_received,
                 (unsigned long long)rn->acc_fed);
    else if (st->datagrams_sent != 0 && st->datagrams_sent != rn->acc_tx)
        sim_fail(w, "stats n%zu: datagrams_sent %llu, taken %llu", r,
                 (unsigned long long)st->datagrams_sent,
                 (unsigned long long)rn->acc_tx);
    else if (st->drops_total < rn->acc_fed_foreign)
        sim_fail(w, "stats n%zu: %llu drops counted, but %llu datagrams fed "
                    "were its own, corrupted or of the other group", r,
                 (unsigned long long)st->drops_total,
                 (unsigned long long)rn->acc_fed_foreign);
    else if (st->send_window_used_bytes > c->send_window_bytes)
        sim_fail(w, "stats n%zu: send_window_used_bytes %llu", r,
                 (unsigned long long)st->send_window_used_bytes);
    else if (st->recv_buffered_bytes >
             (c->max_members - 1) * (c->recv_buffer_bytes + c->max_message))
        sim_fail(w, "stats n%zu: recv_buffered_bytes %llu", r,
                 (unsigned long long)st->recv_buffered_bytes);
    else if (st->drops[COHORT_DROP_INJECTED] != 0)
        sim_fail(w, "stats n%zu: the core counted injected drops", r);
}

void sim_check_stats(sim_world_t *w, size_t r)
{
    const sim_node_t *rn = &w->node[r];
    if (!rn->up || w->failed)
        return;
    /* The _mut form refreshes the window and buffer gauges. */
    const struct cohort_stats *st = co_core_stats_mut(rn->core);
    if (st == NULL) {
        sim_fail(w, "n%zu: co_core_stats returned NULL", r);
        return;
    }
    check_counts(w, r, st);
    if (!w->failed)
        check_traffic(w, r, st);
}

void sim_collect_stats(sim_world_t *w, size_t r)
{
    const sim_node_t *rn = &w->node[r];
    if (!rn->up)
        return;
    const struct cohort_stats *st = co_core_stats(rn->core);
    w->tot.retrans += st->retransmissions_sent;
    w->tot.nacks += st->nacks_sent;
    w->tot.drops += st->drops_total;
}

void sim_check_reset_node(sim_world_t *w, size_t r)
{
    sim_node_t *rn = &w->node[r];
    memset(rn->rx, 0, w->n_nodes * SIM_MAX_GENS * sizeof rn->rx[0]);
    memset(rn->joined, 0, sizeof rn->joined);
    memset(rn->joined_ev, 0, sizeof rn->joined_ev);
    memset(rn->left_ev, 0, sizeof rn->left_ev);
    memset(rn->knew, 0, sizeof rn->knew);
    memset(rn->heard_seq, 0,
           w->n_nodes * SIM_MAX_GENS * sizeof rn->heard_seq[0]);
    for (size_t k = 0; k < SIM_MAX_NODES; k++) {
        w->absent_ns[r][k] = w->now_ns;
        w->absent_ns[k][r] = w->now_ns;
    }
}

/* ------------------------------------------------------------------ */
/* Liveness after the heal                                             */
/* ------------------------------------------------------------------ */

static bool views_agree(sim_world_t *w, char *why, size_t len)
{
    for (size_t r = 0; r < w->scn.members; r++) {
        const sim_node_t *rn = &w->node[r];
        if (!rn->up) {
            snprintf(why, len, "n%zu is not running", r);
            return false;
        }
        bool listed[SIM_MAX_NODES];
        size_t n = viewed_nodes(w, r, listed, NULL);
        if (n != w->scn.members) {
            snprintf(why, len, "n%zu knows %zu members, %zu are live", r, n,
                     w->scn.members);
            return false;
        }
        for (size_t k = 0; k < w->scn.members; k++) {
            if (k != r && !listed[k]) {
                snprintf(why, len, "n%zu does not list n%zu gen %u", r, k,
                         w->node[k].gen);
                return false;
            }
        }
    }
    return true;
}

/* UNRELIABLE messages may still be dropped when the receiver's event
 * queue is full (one datagram can carry more records than the queue has
 * room for): that is counted, and excuses the receiver. */
static bool unreliable_excused(const sim_world_t *w, const sim_msg_t *m,
                               size_t r)
{
    if (sim_reliable(m->mode))
        return false;
    const struct cohort_stats *st = co_core_stats(w->node[r].core);
    return st->drops[COHORT_DROP_QUEUE_FULL] > 0;
}

static bool all_delivered(sim_world_t *w, char *why, size_t len)
{
    for (size_t s = 0; s < w->scn.members; s++) {
        for (size_t i = 0; i < w->n_msgs[s]; i++) {
            const sim_msg_t *m = &w->msgs[s][i];
            for (size_t r = 0; m->owed_any && r < w->scn.members; r++) {
                uint64_t rv = 0;
                if (w->node[r].up)
                    (void)co_core_view(w->node[r].core, &rv, NULL, 0);
                /* Owed at the end: what was sent in the view it ends in. */
                if (m->view_id != rv || !sim_owed(w, s, m, r) ||
                    m->got_gen1[r] == w->node[r].gen + 1 ||
                    unreliable_excused(w, m, r))
                    continue;
                snprintf(why, len, "n%zu has not delivered n%zu#%zu (%s, "
                                   "reliable %u, %uB, sent at %.6fs)", r, s,
                         i, sim_mode_name(m->mode), m->fifo_seq, m->len,
                         (double)m->sent_ns / 1e9);
                return false;
            }
        }
    }
    return true;
}

uint64_t sim_count_owed(const sim_world_t *w)
{
    uint64_t n = 0;
    for (size_t s = 0; s < w->scn.members; s++)
        for (size_t i = 0; i < w->n_msgs[s]; i++)
            for (size_t r = 0; w->msgs[s][i].owed_any && r < w->scn.members;
                 r++)
                n += sim_owed(w, s, &w->msgs[s][i], r);
    return n;
}

bool sim_converged(sim_world_t *w, char *why, size_t len)
{
    for (size_t s = 0; s < w->n_nodes; s++) {
        if (w->node[s].up && w->node[s].pending) {
            snprintf(why, len, "%s n%zu still gets AGAIN for a send (since "
                               "%.6fs)",
                     w->node[s].member ? "member" : "outsider", s,
                     (double)w->node[s].again_since_ns / 1e9);
            return false;
        }
    }
    if (!views_agree(w, why, len) || !sim_views_converged(w, why, len) ||
        !all_delivered(w, why, len))
        return false;
    /* The outsider too: a member alone in its group knows no one, so
     * everything it sent is trivially held by everyone it knows. */
    for (size_t s = 0; s < w->n_nodes; s++) {
        const co_core_t *core = w->node[s].core;
        if (w->fifo && !co_core_drained(core)) {
            snprintf(why, len, "%s n%zu is not drained",
                     w->node[s].member ? "member" : "outsider", s);
            return false;
        }
        /* Everything delivered and stable: no buffer may still hold. */
        if (co_core_memory_bytes(core) != 0) {
            snprintf(why, len, "n%zu still holds %zu bytes", s,
                     co_core_memory_bytes(core));
            return false;
        }
    }
    return true;
}

/*
 * In the `attack` scenario nothing but the attacker disturbs the group: no
 * partition, no crash, no restart, loss too light for a timeout. So the
 * member events are known exactly: every member saw every other member join
 * once, and nobody leave. A JOINED or LEFT beyond that was caused by the
 * attacker (an evicted member, a forged or revived one). One exception:
 * a member left out by a view change that raced its own (two proposers
 * at the start) is excluded while alive and rejoins under a new
 * incarnation (its gen counts them, as there are no restarts here): each
 * such new life is one more JOINED and one LEFT of the old at most, and
 * an observer that itself began a new life counted from there.
 */
void sim_check_member_events(sim_world_t *w)
{
    for (size_t r = 0; r < w->scn.members && !w->failed; r++) {
        const sim_node_t *rn = &w->node[r];
        for (size_t k = 0; k < w->n_nodes && !w->failed; k++) {
            if (!w->node[k].member && (w->scn.misfit || w->scn.narrow))
                continue; /* heard, never in a view: not judged here */
            uint32_t lives = w->node[k].gen; /* its rejoins */
            uint32_t want = k != r && w->node[k].member ? 1 : 0;
            uint32_t most = want ? want + lives : 0;
            uint32_t least = rn->gen == 0 && lives == 0 ? want : (want != 0);
            if (rn->joined_ev[k] < least || rn->joined_ev[k] > most ||
                rn->left_ev[k] > (want ? lives : 0))
                sim_fail(w, "member events: n%zu saw n%zu join %u times and "
                            "leave %u times (expected %u and 0, or up to %u "
                            "more for its new lives: nothing but the "
                            "attacker disturbs this group)", r, k,
                         rn->joined_ev[k], rn->left_ev[k], want, lives);
        }
    }
}
