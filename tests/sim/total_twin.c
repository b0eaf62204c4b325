/*
 * total_twin.c - checker self-tests for total_check (as vs_twin.c does
 * for vs_check): the run's checker gets the true history, a twin checker
 * the same history but for one injected fault, and the self-test is
 * caught when the twin finds more violations of the targeted property
 * than the run's checker (a core's own violations are in both and cancel
 * out; in these runs they are not failures themselves). Each fault is
 * injected only where it must show:
 *
 *  - total-swap: at one member two consecutive regular TOTAL/SAFE
 *    deliveries of a view reach the twin in each other's place, once
 *    another member delivered both positions regularly (agreement);
 *  - total-renumber: one TOTAL/SAFE delivery reaches the twin numbered one
 *    more (numbering);
 *  - total-drop: a member's last TOTAL delivery of a view is hidden from
 *    the twin when another member already moved from that view to the
 *    same next view having delivered that position (transition);
 *  - safe-drop: the same for a SAFE delivery that another member delivered
 *    regularly at that position (uniform).
 *
 * A held delivery is given to the twin before its member's next event, so
 * each member's events stay in order.
 */
#include <string.h>

#include "co_assert.h"
#include "sim.h"

bool sim_total_test(sim_inject_t k)
{
    return k == SIM_INJECT_TOTAL_SWAP || k == SIM_INJECT_TOTAL_RENUMBER ||
           k == SIM_INJECT_TOTAL_DROP || k == SIM_INJECT_SAFE_DROP;
}

static total_prop_t target(sim_inject_t k)
{
    if (k == SIM_INJECT_TOTAL_SWAP)
        return TOTAL_PROP_AGREEMENT;
    if (k == SIM_INJECT_TOTAL_RENUMBER)
        return TOTAL_PROP_NUMBERING;
    if (k == SIM_INJECT_TOTAL_DROP)
        return TOTAL_PROP_TRANSITION;
    return TOTAL_PROP_UNIFORM;
}

void sim_total_twin_report(sim_world_t *w)
{
    total_prop_t p = target(w->opts.inject);
    size_t a = total_check_count(w->ord.twin, p);
    size_t b = total_check_count(w->ord.tc, p);
    if (w->failed || a <= b)
        return;
    const char *name = total_check_prop_name(p), *text = NULL;
    for (size_t i = total_check_violations(w->ord.twin); i-- > 0 && !text;) {
        const char *t = total_check_violation(w->ord.twin, i);
        if (t && strncmp(t, name, strlen(name)) == 0)
            text = t;
    }
    sim_fail(w, "order: %s (self-test twin: %zu against %zu)",
             text ? text : name, a, b);
}

static cohort_member_t identity(const sim_node_t *n)
{
    return (cohort_member_t){n->member_id, sim_incarnation(n)};
}

static void feed(sim_world_t *w, size_t r, const sim_odel_t *d,
                 uint64_t order)
{
    total_check_delivered(w->ord.twin, identity(&w->node[r]), d->tx,
                          d->index, d->seq, (cohort_mode_t)d->mode, d->view,
                          order, d->flags);
}

static void flush(sim_world_t *w, size_t r)
{
    sim_odel_t *h = &w->ord.hold[r];
    if (!h->on)
        return;
    h->on = false;
    feed(w, r, h, h->order);
}

static bool regular(const sim_odel_t *d)
{
    return sim_ordered(d->mode) && !(d->flags & COHORT_MESSAGE_TRANSITIONAL);
}

/* Another member than r delivered position order of view regularly. */
static bool other_has(const sim_world_t *w, size_t r, uint64_t view,
                      uint64_t order)
{
    const sim_total_t *o = &w->ord;
    for (size_t i = 0; i < o->n_vmax; i++) {
        if (o->vmax[i].view != view)
            continue;
        for (size_t t = 0; t < w->scn.members && t <= SIM_MASK_MEMBERS; t++)
            if (t != r && o->vmax[i].max[t] >= order)
                return true;
    }
    return false;
}

/* Whether hiding r's held delivery must show when r installs view id. */
static bool drop_shows(const sim_world_t *w, size_t r, uint64_t id)
{
    const sim_odel_t *h = &w->ord.hold[r];
    const sim_node_t *rn = &w->node[r];
    if (w->opts.inject == SIM_INJECT_SAFE_DROP)
        return other_has(w, r, h->view, h->order);
    for (size_t t = 0; t < w->scn.members; t++) {
        const sim_node_t *tn = &w->node[t];
        if (t != r && tn->up && tn->app_view_id == id &&
            tn->app_prev_view_id == rn->app_view_id &&
            tn->ord_prev >= h->order)
            return true;
    }
    return false;
}

static bool may_hold(const sim_world_t *w, const sim_odel_t *d)
{
    sim_inject_t k = w->opts.inject;
    if (k == SIM_INJECT_TOTAL_SWAP)
        return regular(d);
    if (k == SIM_INJECT_TOTAL_DROP)
        return d->mode == COHORT_TOTAL;
    if (k == SIM_INJECT_SAFE_DROP)
        return regular(d) && d->mode == COHORT_SAFE;
    return false;
}

void sim_total_twin_delivered(sim_world_t *w, size_t r, const sim_odel_t *d)
{
    sim_odel_t *h = &w->ord.hold[r];
    sim_inject_t k = w->opts.inject;
    if (w->injected || !sim_ordered(d->mode)) {
        flush(w, r);
        feed(w, r, d, d->order);
        return;
    }
    if (k == SIM_INJECT_TOTAL_RENUMBER) {
        w->injected = true;
        sim_trace(w, "self-test: the twin sees n%zu deliver n%zu#%u with "
                     "order %llu", r, d->s, d->index,
                  (unsigned long long)d->order + 1);
        feed(w, r, d, d->order + 1);
        return;
    }
    if (k == SIM_INJECT_TOTAL_SWAP && h->on && regular(d) &&
        h->view == d->view && h->order + 1 == d->order &&
        other_has(w, r, d->view, d->order)) {
        w->injected = true;
        h->on = false;
        sim_trace(w, "self-test: the twin sees n%zu deliver n%zu#%u and "
                     "n%zu#%u the other way round", r, h->s, h->index, d->s,
                  d->index);
        feed(w, r, d, h->order);
        feed(w, r, h, d->order);
        return;
    }
    flush(w, r);
    if (may_hold(w, d)) {
        *h = *d;
        h->on = true;
    } else {
        feed(w, r, d, d->order);
    }
}

void sim_total_twin_install(sim_world_t *w, size_t r, uint64_t view_id,
                            const cohort_member_t *m, size_t n)
{
    sim_odel_t *h = &w->ord.hold[r];
    sim_inject_t k = w->opts.inject;
    if (h->on && !w->injected &&
        (k == SIM_INJECT_TOTAL_DROP || k == SIM_INJECT_SAFE_DROP) &&
        drop_shows(w, r, view_id)) {
        h->on = false;
        w->injected = true;
        sim_trace(w, "self-test: the twin does not see n%zu deliver n%zu#%u "
                     "(%s, order %llu) before view %016llx", r, h->s,
                  h->index, sim_mode_name(h->mode),
                  (unsigned long long)h->order,
                  (unsigned long long)view_id);
    }
    flush(w, r);
    total_check_install(w->ord.twin, identity(&w->node[r]), view_id, m, n);
}

void sim_total_twin_stopped(sim_world_t *w, size_t r)
{
    flush(w, r);
    total_check_stopped(w->ord.twin, identity(&w->node[r]));
}

void sim_total_twin_final(sim_world_t *w, const cohort_member_t *live,
                          size_t n)
{
    for (size_t r = 0; r < w->n_nodes; r++)
        flush(w, r);
    total_check_final(w->ord.twin, live, n);
}
