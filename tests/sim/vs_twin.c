/*
 * vs_twin.c - checker self-tests for the message properties of vs_check.
 *
 * The simulator breaks a guarantee on the reporting side and the run must
 * fail. The core under test may itself break virtual synchrony (today's
 * does: it has no flush yet), so a violation in the run proves nothing by
 * itself. Instead a twin checker, built like the run's, gets the same
 * history except for the one injected fault; the self-test is caught when
 * the twin finds more violations of the targeted property than the run's
 * checker (the core's own violations are in both and cancel out). In these
 * self-tests the run's own violations are not failures.
 *
 *  - synchrony: the twin does not see one delivery that was a member's last
 *    event before it installed its next view, so it moves to that view
 *    having delivered one message fewer than the others;
 *  - sending-view: one delivery reaches the twin tagged with the next view
 *    id instead of the one it was sent (and delivered) in;
 *  - self-delivery: the application delivers its own messages itself, at
 *    send (both checkers; the core's own deliveries are not fed), and the
 *    twin misses one of them, which the sender's next view change or the
 *    final check must notice;
 *  - self-delivery-off: self-delivery is off and the twin sees a member
 *    deliver one of its own messages.
 *
 * synchrony holds back each member's latest delivery from the twin and
 * gives it before that member's next event, so each incarnation's events
 * stay in order; when the next event is an install that another member
 * (not the sender) already made from the same view after delivering that
 * message, the held delivery is dropped instead: the twin must then see
 * the two move on with different sets.
 */
#include <string.h>

#include "co_assert.h"
#include "sim.h"

bool sim_twin_test(sim_inject_t k)
{
    return k == SIM_INJECT_SYNCHRONY || k == SIM_INJECT_SENDING_VIEW ||
           k == SIM_INJECT_SELF_DELIVERY || k == SIM_INJECT_SELF_DELIVERY_OFF;
}

static vs_prop_t target(sim_inject_t k)
{
    if (k == SIM_INJECT_SYNCHRONY)
        return VS_PROP_SYNCHRONY;
    if (k == SIM_INJECT_SENDING_VIEW)
        return VS_PROP_SENDING_VIEW;
    return VS_PROP_SELF_DELIVERY;
}

/* The twin found more of the target property than the run's checker. */
void sim_twin_report(sim_world_t *w)
{
    vs_prop_t p = target(w->opts.inject);
    if (w->failed || vs_check_count(w->twin.vs, p) <= vs_check_count(w->vs, p))
        return;
    const char *name = vs_check_prop_name(p);
    const char *text = NULL;
    for (size_t i = vs_check_violations(w->twin.vs); i-- > 0 && !text;) {
        const char *t = vs_check_violation(w->twin.vs, i);
        if (t && strncmp(t, name, strlen(name)) == 0)
            text = t;
    }
    sim_fail(w, "views: %s (self-test twin: %zu against %zu)",
             text ? text : name, vs_check_count(w->twin.vs, p),
             vs_check_count(w->vs, p));
}

static cohort_member_t identity(const sim_node_t *n)
{
    return (cohort_member_t){n->member_id, sim_incarnation(n)};
}

/* Give node r's held delivery to the twin. */
static void flush(sim_world_t *w, size_t r)
{
    sim_hold_t *h = &w->twin.hold[r];
    if (!h->on)
        return;
    h->on = false;
    vs_check_delivered(w->twin.vs, identity(&w->node[r]), h->tx, h->key,
                       h->view);
}

/* Node r, in view v, is about to install view id: whether dropping its
 * held delivery must show. It does when another member, not the sender,
 * already moved from v to id having delivered that message in v. */
static bool drop_shows(const sim_world_t *w, size_t r, uint64_t id)
{
    const sim_hold_t *h = &w->twin.hold[r];
    const sim_msg_t *m = &w->msgs[h->s][h->index];
    uint64_t v = w->node[r].app_view_id;
    for (size_t t = 0; t < w->n_nodes; t++) {
        const sim_node_t *tn = &w->node[t];
        if (t != r && t != h->s && tn->up && tn->app_view_id == id &&
            tn->app_prev_view_id == v && m->got_gen1[t] == tn->gen + 1 &&
            m->got_views[t] + 1 == tn->app_views)
            return true;
    }
    return false;
}

void sim_twin_install(sim_world_t *w, size_t r, uint64_t view_id,
                      const cohort_member_t *m, size_t n, bool primary)
{
    sim_hold_t *h = &w->twin.hold[r];
    if (h->on && !w->injected && drop_shows(w, r, view_id)) {
        h->on = false;
        w->injected = true;
        sim_trace(w, "self-test: the twin does not see n%zu deliver "
                     "n%zu#%u before view %016llx", r, h->s, h->index,
                  (unsigned long long)view_id);
    }
    flush(w, r);
    vs_check_install(w->twin.vs, identity(&w->node[r]), view_id, m, n,
                     primary);
}

void sim_twin_sent(sim_world_t *w, size_t s, uint64_t key, uint64_t view_id)
{
    vs_check_t *t = w->twin.vs;
    sim_inject_t k = w->opts.inject;
    cohort_member_t who = identity(&w->node[s]);
    flush(w, s);
    vs_check_sent(t, who, key, view_id);
    if (k == SIM_INJECT_SELF_DELIVERY) {
        vs_check_delivered(w->vs, who, who, key, view_id);
        if (w->injected)
            vs_check_delivered(t, who, who, key, view_id);
        else
            sim_trace(w, "self-test: the twin does not see n%zu deliver its "
                         "own #%llu", s, (unsigned long long)key);
        w->injected = true;
    } else if (k == SIM_INJECT_SELF_DELIVERY_OFF && !w->injected) {
        w->injected = true;
        sim_trace(w, "self-test: the twin sees n%zu deliver its own #%llu", s,
                  (unsigned long long)key);
        vs_check_delivered(t, who, who, key, view_id);
    }
}

/* Whether the run's checker gets the core's delivery (not when the
 * application delivers its own messages itself). */
bool sim_twin_delivered(sim_world_t *w, size_t r, const cohort_event_t *ev,
                        const sim_payload_t *p)
{
    const sim_node_t *rn = &w->node[r];
    sim_inject_t k = w->opts.inject;
    cohort_member_t rx = identity(rn), tx = ev->u.message.sender;
    uint64_t view = ev->u.message.view_id;
    bool own = rx.id == tx.id && rx.incarnation == tx.incarnation;
    if (k == SIM_INJECT_SELF_DELIVERY && own)
        return false;
    flush(w, r);
    bool tagged = rn->app_view_id != 0 && view == rn->app_view_id;
    if (k == SIM_INJECT_SENDING_VIEW && !w->injected && tagged) {
        w->injected = true;
        sim_trace(w, "self-test: the twin sees n%u#%u tagged view %016llx",
                  p->node, p->index, (unsigned long long)view + 1);
        vs_check_delivered(w->twin.vs, rx, tx, p->index, view + 1);
    } else if (k == SIM_INJECT_SYNCHRONY && !w->injected && tagged && !own) {
        sim_hold_t *h = &w->twin.hold[r];
        h->on = true;
        h->tx = tx;
        h->s = p->node;
        h->index = p->index;
        h->key = p->index;
        h->view = view;
    } else {
        vs_check_delivered(w->twin.vs, rx, tx, p->index, view);
    }
    return true;
}

void sim_twin_stopped(sim_world_t *w, size_t r)
{
    flush(w, r);
    vs_check_stopped(w->twin.vs, identity(&w->node[r]));
}

void sim_twin_final(sim_world_t *w, const cohort_member_t *live, size_t n)
{
    for (size_t r = 0; r < w->n_nodes; r++)
        flush(w, r);
    vs_check_final(w->twin.vs, live, n);
}
