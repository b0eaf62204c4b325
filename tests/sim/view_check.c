/*
 * view_check.c - agreed views and virtual synchrony in the simulator.
 *
 * Every VIEW event goes to the view property checker (vs_check.c): it
 * contains its member, ids grow along each member's history, and one view
 * id has one member list everywhere. A view may name only nodes of the
 * member's own group (isolation from the outsider; the misfit, of the
 * members' group and key but another max_datagram, counts as the other
 * group here: no view may hold it with them). After the heal every
 * live node of a group installs the same view, made of exactly the live
 * nodes of that group (liveness), and the checker's final pass confirms.
 *
 * With --vs (scn.vs) every FIFO send and delivery goes to the checker too,
 * so it also checks virtual synchrony, the sending view, delivery in view,
 * exactly once, FIFO per view, self-delivery and, at the end, that all of
 * a final view's messages were delivered by all of it. A message is
 * "sender incarnation # payload index" (payload.c; the index is unique
 * per node, so per incarnation). It is sent in the last view its sender's
 * application pulled (the event stream is what the application sees);
 * a delivery carries the view id of its event. Without --vs only installs
 * and stops are fed, since today's core does not promise the rest.
 *
 * The checker's bounds come from the scenario, so a normal run never hits
 * them: every incarnation a run can have (each node once, plus one per
 * crash, since a crashed node comes back once), VIEWS_PER_LIFE installs
 * each, and every message any node can draw.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "sim.h"

#define VIEWS_PER_LIFE 512

void sim_view_init(sim_world_t *w)
{
    const sim_scn_t *s = &w->scn;
    vs_check_config_t c;
    vs_check_config_init(&c);
    c.max_members = w->n_nodes + s->n_crashes + s->state_kills +
                    SIM_MAX_REJOINS;
    c.max_views = VIEWS_PER_LIFE;
    c.max_msgs = s->vs ? w->n_nodes * s->msgs_per_node : 1;
    if (c.max_msgs == 0)
        c.max_msgs = 1;
    c.self_delivery = s->self_delivery;
    c.proposer_named = true;
    c.max_texts = 64;
    if (vs_check_new(&w->vs, &c) != 0)
        w->vs = NULL;
    COHORT_ASSERT(w->vs != NULL);
    w->vs_reported = 0;
    memset(&w->twin, 0, sizeof w->twin);
    if (sim_twin_test(w->opts.inject)) {
        int rc = vs_check_new(&w->twin.vs, &c);
        w->twin.hold = calloc(w->n_nodes, sizeof *w->twin.hold);
        COHORT_ASSERT(rc == 0 && s->vs && w->twin.hold != NULL);
    }
}

void sim_view_free(sim_world_t *w)
{
    vs_check_free(w->vs);
    vs_check_free(w->twin.vs);
    free(w->twin.hold);
    w->vs = NULL;
    w->twin.vs = NULL;
    w->twin.hold = NULL;
}

static cohort_member_t identity(const sim_node_t *n)
{
    return (cohort_member_t){n->member_id, sim_incarnation(n)};
}

/* Turn new checker findings into a failure of the run. */
static void report(sim_world_t *w)
{
    if (w->twin.vs) {
        sim_twin_report(w);
        return;
    }
    size_t n = vs_check_violations(w->vs);
    if (n > w->vs_reported && !w->failed) {
        const char *text = vs_check_violation(w->vs, w->vs_reported);
        sim_fail(w, "views: %s", text ? text : "(more than the checker keeps)");
    }
    w->vs_reported = n;
}

void sim_view_event(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    const sim_node_t *rn = &w->node[r];
    const cohort_member_t *m = ev->u.view.members;
    size_t count = ev->u.view.count;
    if (rn->warned_inc != 0 && rn->warned_inc == sim_incarnation(rn)) {
        sim_fail(w, "views: n%zu (%08x.%u) installed view %016llx after it "
                    "was told EXCLUDED: it went on in its old life instead "
                    "of rejoining", r, rn->member_id, rn->warned_inc,
                 (unsigned long long)ev->u.view.view_id);
        return;
    }
    sim_trace(w, "app  n%zu: view %016llx, %zu members (%zu joined, %zu "
                 "left, %zu failed)%s", r,
              (unsigned long long)ev->u.view.view_id, count,
              ev->u.view.joined_count, ev->u.view.left_count,
              ev->u.view.failed_count, ev->u.view.primary ? "" : " minor");
    sim_hash_u64(w, ev->u.view.view_id);
    for (size_t i = 0; i < count; i++) {
        size_t node;
        uint32_t gen;
        if (!sim_identity_of(w, m[i], &node, &gen) ||
            w->node[node].member != rn->member) {
            sim_fail(w, "views: n%zu's view %016llx names %08x/%u, not of "
                        "its group", r,
                     (unsigned long long)ev->u.view.view_id, m[i].id,
                     m[i].incarnation);
            return;
        }
    }
    vs_check_install(w->vs, identity(rn), ev->u.view.view_id, m, count,
                     ev->u.view.primary != 0);
    vs_check_joined(w->vs, identity(rn), ev->u.view.view_id,
                    ev->u.view.joined, ev->u.view.joined_count);
    if (w->twin.vs)
        sim_twin_install(w, r, ev->u.view.view_id, m, count,
                         ev->u.view.primary != 0);
    sim_total_install(w, r, ev);
    w->node[r].app_prev_view_id = rn->app_view_id;
    w->node[r].app_view_id = ev->u.view.view_id;
    size_t keep = count < SIM_MAX_MEMBERS ? count : SIM_MAX_MEMBERS;
    memcpy(w->node[r].app_members, m, keep * sizeof m[0]);
    w->node[r].app_nmembers = (uint16_t)keep;
    if (w->node[r].app_views < UINT16_MAX)
        w->node[r].app_views++;
    report(w);
}

/* FIFO and TOTAL messages obey virtual synchrony as vs_check states it;
 * SAFE ones too, but for one thing: a SAFE message that is not yet held
 * by every member of its view when the view ends may be delivered by no
 * one, its sender included (never transitionally), so vs_check's "a
 * sender delivers its own messages before it moves on" does not hold for
 * them; total_check judges them (rules 4 and 5). In `state` TOTAL ones
 * have the exception of a superseded transfer (docs/guarantees.md, "State
 * transfer"), which total_check is told of (sim_total_superseded). */
static bool vs_fed(const sim_world_t *w, const sim_payload_t *p)
{
    return w->scn.vs && (p->mode == COHORT_FIFO ||
                         (p->mode == COHORT_TOTAL && !w->scn.state));
}

void sim_vs_sent(sim_world_t *w, size_t s, const sim_payload_t *p)
{
    const sim_node_t *sn = &w->node[s];
    if (!vs_fed(w, p))
        return;
    COHORT_ASSERT(p->gen == sn->gen);
    /* The message goes out in the view the application is in only when
     * the core is not holding sends for the next view (a change in
     * progress), not feeding a large message out, and has no view the
     * application has yet to take: else its view is known only when it is
     * delivered (vs_check_sent with view 0). */
    uint64_t core_view = 0;
    (void)co_core_view(sn->core, &core_view, NULL, 0);
    uint64_t view = co_core_holding(sn->core) || co_core_feeding(sn->core) ||
                            core_view != sn->app_view_id
                        ? 0
                        : sn->app_view_id;
    vs_check_sent(w->vs, identity(sn), p->index, view);
    if (w->twin.vs)
        sim_twin_sent(w, s, p->index, view);
    report(w);
}

void sim_vs_delivered(sim_world_t *w, size_t r, const cohort_event_t *ev,
                      const sim_payload_t *p)
{
    const sim_node_t *rn = &w->node[r];
    if (!vs_fed(w, p))
        return;
    if (w->twin.vs && !sim_twin_delivered(w, r, ev, p))
        return;
    vs_check_delivered(w->vs, identity(rn), ev->u.message.sender, p->index,
                       ev->u.message.view_id);
    report(w);
}

void sim_view_stopped(sim_world_t *w, size_t r)
{
    vs_check_stopped(w->vs, identity(&w->node[r]));
    sim_total_stopped(w, r);
    if (w->twin.vs)
        sim_twin_stopped(w, r);
}

/* One group's live nodes (members, or the outsider side). */
static size_t live_of(const sim_world_t *w, bool member, cohort_member_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_nodes; i++)
        if (w->node[i].up && w->node[i].member == member)
            out[n++] = identity(&w->node[i]);
    return n;
}

static bool listed(const cohort_member_t *l, size_t n, cohort_member_t m)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].id == m.id && l[i].incarnation == m.incarnation)
            return true;
    return false;
}

/* The first node's view is held against the live list (O(n^2), once);
 * every other node's must be the very same list (O(n) each), so a check
 * stays O(n^2) in a group of 128. */
bool sim_views_converged(sim_world_t *w, char *why, size_t len)
{
    cohort_member_t live[SIM_MAX_NODES], view[SIM_MAX_NODES];
    cohort_member_t first[SIM_MAX_NODES];
    for (int group = 0; group < 2; group++) {
        size_t n = live_of(w, group == 0, live);
        uint64_t first_id = 0;
        size_t first_k = 0;
        for (size_t i = 0; i < w->n_nodes; i++) {
            const sim_node_t *nd = &w->node[i];
            if (!nd->up || nd->member != (group == 0))
                continue;
            uint64_t id;
            size_t k = co_core_view(nd->core, &id, view, SIM_MAX_NODES);
            if (k == 0) {
                snprintf(why, len, "n%zu has no view yet", i);
                return false;
            }
            bool same = k == n && k <= SIM_MAX_NODES;
            if (first_id == 0 && same) {
                first_id = id;
                first_k = k;
                memcpy(first, view, k * sizeof view[0]);
                for (size_t j = 0; same && j < k; j++)
                    same = listed(live, n, view[j]);
            } else {
                same = same && id == first_id && k == first_k &&
                       memcmp(view, first, k * sizeof view[0]) == 0;
            }
            if (!same) {
                snprintf(why, len, "n%zu is in view %016llx of %zu members; "
                         "%zu live", i, (unsigned long long)id, k, n);
                return false;
            }
        }
    }
    return true;
}

/* "n was excluded by `named`, now in view V": recorded, judged at the
 * end, when every app has pulled its views. */
void sim_view_excluded(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    uint64_t view_id = 0;
    const char *t = ev->u.warning.text ? strstr(ev->u.warning.text, "view ")
                                       : NULL;
    if (t == NULL || sscanf(t, "view %" SCNx64, &view_id) != 1) {
        sim_fail(w, "views: n%zu's EXCLUDED warning names no view: %s", r,
                 ev->u.warning.text ? ev->u.warning.text : "(null)");
        return;
    }
    if (w->n_excluded == SIM_MAX_EXCLUDED)
        return; /* enough to judge */
    w->excluded[w->n_excluded].warned = identity(&w->node[r]);
    w->excluded[w->n_excluded].named = ev->u.warning.member;
    w->excluded[w->n_excluded].view_id = view_id;
    w->n_excluded++;
}

/* Each EXCLUDED warning was true: the member it named installed that
 * view, and the view does not hold the warned member. (Unknown when the
 * named one crashed before its app took the view: not judged.) */
static void check_excluded(sim_world_t *w)
{
    for (size_t i = 0; i < w->n_excluded && !w->failed; i++) {
        int rc = vs_check_installed_without(w->vs, w->excluded[i].named,
                                            w->excluded[i].view_id,
                                            w->excluded[i].warned);
        if (rc == 0)
            sim_fail(w, "views: %08x.%u was told it is not in view %016"
                        PRIx64 " of %08x.%u, which holds it",
                     w->excluded[i].warned.id,
                     w->excluded[i].warned.incarnation,
                     w->excluded[i].view_id, w->excluded[i].named.id,
                     w->excluded[i].named.incarnation);
    }
}

void sim_view_final(sim_world_t *w)
{
    cohort_member_t live[SIM_MAX_NODES];
    check_excluded(w);
    for (int group = 0; group < 2 && !w->failed; group++) {
        size_t n = live_of(w, group == 0, live);
        if (n) {
            vs_check_final(w->vs, live, n);
            if (w->twin.vs)
                sim_twin_final(w, live, n);
        }
        report(w);
    }
}
