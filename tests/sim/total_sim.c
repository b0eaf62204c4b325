/*
 * total_sim.c - total and safe order in the simulator: every VIEW event,
 * every delivery (its mode, order, flags and view) and every stop of a
 * member goes to total_check (tests/sim/total_check.c) when the workload
 * mixes in TOTAL or SAFE (--modes). A message is "sender incarnation #
 * payload index"; its place in the sender's reliable stream is the
 * payload's reliable number (FIFO, TOTAL and SAFE share it), so rule 1
 * holds across modes. The checker is sized from the scenario as
 * view_check.c sizes vs_check. Positions are compared across members only
 * with self-delivery (a member that does not deliver its own messages
 * numbers the others' alone).
 *
 * Not fed yet: what each core held when (rule 6, "SAFE only once every
 * member of the view holds it"); the simulator would have to follow each
 * message's records to each receiver, decrypted. The rule is proven in
 * tests/unit/test_total_check.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_assert.h"
#include "sim.h"

#define VIEWS_PER_LIFE 512

static cohort_member_t identity(const sim_node_t *n)
{
    return (cohort_member_t){n->member_id, sim_incarnation(n)};
}

static total_check_t *new_checker(const sim_world_t *w)
{
    const sim_scn_t *s = &w->scn;
    total_check_config_t c;
    total_check_t *tc = NULL;
    total_check_config_init(&c);
    c.max_members = w->n_nodes + s->n_crashes + s->state_kills +
                    SIM_MAX_REJOINS + 1;
    c.max_views = c.max_members * VIEWS_PER_LIFE;
    /* each delivery is kept once by its member and at most once in its
     * view's canonical sequence */
    c.max_entries = 2 * w->n_nodes * s->msgs_per_node * s->members + 64;
    c.max_texts = 64;
    c.proposer_named = true;
    c.positions_shared = s->self_delivery;
    int rc = total_check_new(&tc, &c);
    COHORT_ASSERT(rc == 0 && tc != NULL);
    return tc;
}

void sim_total_init(sim_world_t *w)
{
    memset(&w->ord, 0, sizeof w->ord);
    if (!(w->opts.modes & SIM_MODES_ORDERED))
        return;
    w->ord.tc = new_checker(w);
    if (sim_total_test(w->opts.inject)) {
        w->ord.twin = new_checker(w);
        w->ord.hold = calloc(w->n_nodes, sizeof *w->ord.hold);
        COHORT_ASSERT(w->ord.hold != NULL);
    }
}

void sim_total_free(sim_world_t *w)
{
    total_check_free(w->ord.tc);
    total_check_free(w->ord.twin);
    free(w->ord.hold);
    memset(&w->ord, 0, sizeof w->ord);
}

void sim_total_report(sim_world_t *w)
{
    if (w->ord.twin) {
        sim_total_twin_report(w);
        return;
    }
    size_t n = total_check_violations(w->ord.tc);
    if (n > w->ord.reported && !w->failed) {
        const char *t = total_check_violation(w->ord.tc, w->ord.reported);
        sim_fail(w, "order: %s", t ? t : "(more than the checker keeps)");
    }
    w->ord.reported = n;
}

void sim_total_install(sim_world_t *w, size_t r, const cohort_event_t *ev)
{
    sim_node_t *rn = &w->node[r];
    rn->ord_prev = rn->ord_cur;
    rn->ord_cur = 0;
    if (!w->ord.tc)
        return;
    total_check_install(w->ord.tc, identity(rn), ev->u.view.view_id,
                        ev->u.view.members, ev->u.view.count);
    if (w->ord.twin)
        sim_total_twin_install(w, r, ev->u.view.view_id, ev->u.view.members,
                               ev->u.view.count);
    sim_total_report(w);
}

/* The highest order node r delivered regularly in view, kept for the
 * self-tests (which must know another member holds a position). */
static void note_max(sim_world_t *w, size_t r, uint64_t view, uint64_t order)
{
    sim_total_t *o = &w->ord;
    if (r > SIM_MASK_MEMBERS)
        return;
    size_t i = 0;
    while (i < o->n_vmax && o->vmax[i].view != view)
        i++;
    if (i == o->n_vmax) {
        if (o->n_vmax == SIM_VMAX)
            return; /* the self-tests only need the first views */
        memset(&o->vmax[i], 0, sizeof o->vmax[i]);
        o->vmax[i].view = view;
        o->n_vmax++;
    }
    if (order > o->vmax[i].max[r])
        o->vmax[i].max[r] = order;
}

void sim_total_delivered(sim_world_t *w, size_t r, const cohort_event_t *ev,
                         const sim_payload_t *p)
{
    sim_node_t *rn = &w->node[r];
    if (!w->ord.tc || !rn->member)
        return;
    sim_odel_t d;
    memset(&d, 0, sizeof d);
    d.tx = ev->u.message.sender;
    d.s = p->node;
    d.index = p->index;
    d.seq = p->fifo_seq;
    d.mode = p->mode;
    d.view = ev->u.message.view_id;
    d.order = ev->u.message.order;
    d.flags = ev->u.message.flags;
    if (sim_ordered(d.mode)) {
        rn->ord_cur++;
        if (!(d.flags & COHORT_MESSAGE_TRANSITIONAL))
            note_max(w, r, d.view, d.order);
    }
    total_check_delivered(w->ord.tc, identity(rn), d.tx, d.index, d.seq,
                          (cohort_mode_t)d.mode, d.view, d.order, d.flags);
    if (w->ord.twin)
        sim_total_twin_delivered(w, r, &d);
    sim_total_report(w);
}

void sim_total_stopped(sim_world_t *w, size_t r)
{
    if (!w->ord.tc)
        return;
    total_check_stopped(w->ord.tc, identity(&w->node[r]));
    if (w->ord.twin)
        sim_total_twin_stopped(w, r);
}

void sim_total_superseded(sim_world_t *w, size_t r)
{
    if (w->ord.tc)
        total_check_superseded(w->ord.tc, identity(&w->node[r]));
}

void sim_total_final(sim_world_t *w)
{
    cohort_member_t live[SIM_MAX_NODES];
    size_t n = 0;
    if (!w->ord.tc)
        return;
    for (size_t i = 0; i < w->scn.members; i++)
        if (w->node[i].up)
            live[n++] = identity(&w->node[i]);
    total_check_final(w->ord.tc, live, n);
    if (w->ord.twin)
        sim_total_twin_final(w, live, n);
    sim_total_report(w);
}
