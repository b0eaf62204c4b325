/*
 * sim_main.c - command line of cohort-sim.
 *
 *   cohort-sim [--seed N | --seeds A-B] [--scenario NAME] [--nodes K]
 *              [--verbose] [--trace-hash] [--quiet] [--no-loopback]
 *              [--attack-rate HZ] [--twin] [--strict-replay]
 *              [--self-test KIND] [--no-vs | --no-self-delivery]
 *              [--modes LIST]
 *
 * NAME is one of basic, lossy, partition, crash, slow, heavy, attack, state;
 * "all" runs each of them for every seed; "mixed" (the default with a seed)
 * lets the seed pick one of the first seven (state came later: the seeds of
 * "mixed" stay as they were). Without --seed or --seeds it runs seeds 1-3
 * of "all", a short smoke sweep. Exit status: 0 when every property held, 1 on any
 * failure (the seed, what failed and the command that replays it are
 * printed), 2 on a usage error, 77 when --modes asks for a mode the core
 * does not support yet (NOTSUP).
 *
 * A run with the attacker (attack.c) can be paired with a twin: the same
 * seed without the attacker, in the same process. The attacked run must
 * then keep the twin's throughput (see twin_compare). `attack` runs always
 * have their twin; --twin adds it to the others.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#ifdef HAVE_LIBSODIUM
#include <sodium.h>
#endif

typedef struct cli {
    uint64_t first, last;
    char scenario[SIM_NAME_MAX];
    int members;
    bool verbose, trace_hash, quiet, no_loopback;
    bool twin, strict_replay;
    bool vs, no_self_delivery;
    double attack_rate_hz; /* as sim_opts_t */
    sim_inject_t inject;
    unsigned modes;        /* 0: the default mix */
    char modes_text[64];
    const char *argv0;
} cli_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cohort-sim [--seed N | --seeds A-B] [--scenario NAME]\n"
            "                  [--nodes K] [--verbose] [--trace-hash] "
            "[--quiet] [--no-loopback]\n"
            "                  [--attack-rate HZ] [--twin] [--strict-replay]\n"
            "                  [--no-vs | --no-self-delivery]\n"
            "                  [--self-test drop|dup|corrupt|cut|forge|accept|"
            "evict|view|\n"
            "                   synchrony|sending-view|self-delivery|"
            "self-delivery-off|\n"
            "                   total-swap|total-renumber|total-drop|"
            "safe-drop|\n"
            "                   transitional|excluded|misfit|narrow|\n"
            "                   rpc-twice|rpc-replies|rpc-history|\n"
            "                   state-digest|state-place|state-skip|"
            "state-dup|state-handover|\n"
            "                   state-none|state-memory]\n"
            "                  [--modes LIST]\n"
            "  NAME: basic lossy partition crash slow heavy attack state, "
            "all (each of them),\n"
            "        mixed (the seed picks one, state aside);\n"
            "        large (128 members must share one view within 5 s "
            "under loss; by name only);\n"
            "        rpc (request-reply under loss, crashes and partitions; "
            "by name only)\n"
            "        jumbo (datagrams of 8 KiB to 64 KiB, as loopback "
            "carries, under loss; by name only)\n"
            "        state: state transfer to joiners through provider "
            "crashes (TOTAL and SAFE\n"
            "        always in its mix)\n"
            "  K (--nodes or --members): group members, 2-%d, above %d "
            "only in large\n"
            "        (default: drawn from the seed, 2-%d; large: 128)\n"
            "  --attack-rate: attacker datagrams per virtual second (0: "
            "no attacker; default: drawn from the seed)\n"
            "  --twin: also run the seed without the attacker and compare "
            "throughput (always on in attack)\n"
            "  --strict-replay: a replay that brings back a gone member "
            "fails the run\n"
            "  (default) virtual synchrony is checked: FIFO sends and "
            "deliveries go to\n"
            "        vs_check too, members deliver their own messages "
            "(self_delivery 1)\n"
            "  --no-vs: only the older per-message checkers, self_delivery 0\n"
            "  --no-self-delivery: members are configured not to deliver "
            "their own\n"
            "  --self-test: break a guarantee on purpose; the run must "
            "fail (synchrony to\n"
            "        self-delivery-off imply --vs, the total and safe ones "
            "--modes\n"
            "        unreliable,fifo,total,safe; they judge the injected "
            "history against a\n"
            "        twin checker)\n"
            "  --modes LIST: the delivery modes the workload draws, from "
            "unreliable, fifo,\n"
            "        total, safe (default unreliable,fifo; exit 77 when the "
            "core does not\n"
            "        support one yet)\n",
            SIM_MAX_MEMBERS, SIM_MASK_MEMBERS, SIM_DRAW_MEMBERS);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_range(const char *s, uint64_t *a, uint64_t *b)
{
    char buf[64];
    const char *dash = s ? strchr(s, '-') : NULL;
    if (dash == NULL || (size_t)(dash - s) >= sizeof buf)
        return false;
    memcpy(buf, s, (size_t)(dash - s));
    buf[dash - s] = '\0';
    return parse_u64(buf, a) && parse_u64(dash + 1, b) && *a <= *b;
}

static const char *const inject_names[] = {
    "none", "drop", "dup", "corrupt", "cut", "forge", "accept", "evict",
    "view", "synchrony", "sending-view", "self-delivery",
    "self-delivery-off", "total-swap", "total-renumber", "total-drop",
    "safe-drop", "transitional", "excluded", "rejoin", "rpc-twice", "rpc-replies",
    "rpc-history", "state-digest", "state-place", "state-skip", "state-dup",
    "state-handover", "state-none", "state-memory", "misfit", "narrow"};

/* "fifo,total" into SIM_MODE_BIT()s; false on an unknown name. */
static bool parse_modes(const char *s, unsigned *out)
{
    static const char *const names[SIM_N_MODES] = {"unreliable", "fifo",
                                                   "total", "safe"};
    unsigned m = 0;
    const char *p = s;
    while (p != NULL && *p != '\0') {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        unsigned k = 0;
        while (k < SIM_N_MODES &&
               !(strlen(names[k]) == len && strncmp(p, names[k], len) == 0))
            k++;
        if (k == SIM_N_MODES)
            return false;
        m |= SIM_MODE_BIT(k);
        p = e ? e + 1 : NULL;
    }
    if (m == 0 || (m & ~SIM_MODE_BIT(COHORT_UNRELIABLE)) == 0)
        return false; /* a mix needs a reliable mode (the checks do) */
    *out = m;
    return true;
}

static bool parse_inject(const char *s, sim_inject_t *out)
{
    for (size_t i = 0; s && i < sizeof inject_names / sizeof inject_names[0];
         i++) {
        if (strcmp(s, inject_names[i]) == 0) {
            *out = (sim_inject_t)i;
            return true;
        }
    }
    return false;
}

static bool scenario_ok(const char *s)
{
    return strcmp(s, "all") == 0 || strcmp(s, "mixed") == 0 ||
           sim_scenario_known(s);
}

static int parse_args(cli_t *c, int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->vs = true; /* the library is virtually synchronous: check it */
    c->first = 1;
    c->last = 3;
    bool seeded = false, named = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "--seed") == 0 && parse_u64(v, &c->first)) {
            c->last = c->first;
            seeded = true;
            i++;
        } else if (strcmp(a, "--seeds") == 0 &&
                   parse_range(v, &c->first, &c->last)) {
            seeded = true;
            i++;
        } else if (strcmp(a, "--scenario") == 0 && v && scenario_ok(v) &&
                   strlen(v) < sizeof c->scenario) {
            strcpy(c->scenario, v);
            named = true;
            i++;
        } else if ((strcmp(a, "--nodes") == 0 ||
                    strcmp(a, "--members") == 0) &&
                   parse_u64(v, &n) && n >= 2 && n <= SIM_MAX_MEMBERS) {
            c->members = (int)n;
            i++;
        } else if (strcmp(a, "--self-test") == 0 &&
                   parse_inject(v, &c->inject)) {
            i++;
        } else if (strcmp(a, "--attack-rate") == 0 && parse_u64(v, &n) &&
                   n <= 1000000) {
            c->attack_rate_hz = n ? (double)n : -1.0;
            i++;
        } else if (strcmp(a, "--modes") == 0 && v &&
                   strlen(v) < sizeof c->modes_text &&
                   parse_modes(v, &c->modes)) {
            strcpy(c->modes_text, v);
            i++;
        } else if (strcmp(a, "--twin") == 0) {
            c->twin = true;
        } else if (strcmp(a, "--strict-replay") == 0) {
            c->strict_replay = true;
        } else if (strcmp(a, "--vs") == 0) {
            c->vs = true;
        } else if (strcmp(a, "--no-vs") == 0) {
            c->vs = false;
        } else if (strcmp(a, "--no-self-delivery") == 0) {
            c->no_self_delivery = true;
        } else if (strcmp(a, "--verbose") == 0) {
            c->verbose = true;
        } else if (strcmp(a, "--trace-hash") == 0) {
            c->trace_hash = true;
        } else if (strcmp(a, "--quiet") == 0) {
            c->quiet = true;
        } else if (strcmp(a, "--no-loopback") == 0) {
            c->no_loopback = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "cohort-sim: bad argument '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (sim_total_test(c->inject) && !(c->modes & SIM_MODES_ORDERED)) {
        c->modes = SIM_MODES_DEFAULT | SIM_MODES_ORDERED;
        strcpy(c->modes_text, "unreliable,fifo,total,safe");
    }
    if (c->no_self_delivery && !c->vs) {
        fprintf(stderr, "cohort-sim: --no-self-delivery needs --vs\n");
        usage(stderr);
        return -1;
    }
    /* A seed alone runs the scenario it picks; no seed at all is the smoke
     * sweep over every scenario. */
    if (!named)
        strcpy(c->scenario, seeded ? "mixed" : "all");
    if (c->members > SIM_MASK_MEMBERS &&
        (!named || sim_scenario_masked(c->scenario))) {
        fprintf(stderr, "cohort-sim: more than %d members only with "
                        "--scenario large\n", SIM_MASK_MEMBERS);
        usage(stderr);
        return -1;
    }
    return 0;
}

static const char *security_name(cohort_security_t s)
{
    return s == COHORT_SECURITY_AUTH      ? "auth"
           : s == COHORT_SECURITY_ENCRYPT ? "encrypt"
                                          : "none";
}

static void print_attack(const sim_world_t *w)
{
    const sim_attack_t *a = &w->atk;
    uint64_t sent = 0, dropped = 0;
    if (!a->on)
        return;
    for (int i = 0; i < SIM_ATK__COUNT; i++)
        sent += a->sent[i];
    for (int i = 0; i < COHORT_DROP__COUNT; i++)
        dropped += a->drops[i];
    printf(" atk=%.0fHz%s:in=%llu/%llu,dropped=%llu,new=%llu,msgs=%llu,"
           "joins=%llu,ghosts=%llu/%llu/%llu,stolen=%llu",
           w->scn.attack_hz, a->forge ? "+forge" : "",
           (unsigned long long)a->arrived, (unsigned long long)sent,
           (unsigned long long)dropped, (unsigned long long)a->accepted,
           (unsigned long long)a->messages,
           (unsigned long long)a->early_joins, (unsigned long long)a->ghosts,
           (unsigned long long)a->revived, (unsigned long long)a->revived_old,
           (unsigned long long)a->stolen);
    if (w->tot.twin_ns)
        printf(" twin_vt=%.2fs(+%.3fs)", (double)w->tot.twin_ns / 1e9,
               (double)w->tot.twin_heal_ns / 1e9);
}

static void print_summary(const sim_world_t *w, const cli_t *c,
                          const char *status)
{
    const sim_scn_t *s = &w->scn;
    const sim_totals_t *t = &w->tot;
    uint32_t in = s->members >= 32 ? ~0u : (1u << s->members) - 1u;
    printf("%-4s seed=%llu scenario=%s members=%zu%s sec=%s%s%s fifo=%s "
           "loss<=%.2f dup=%.2f reorder=%.2f part=%zu crash=%zu pause=%zu slow=%u "
           "sent=u%llu/f%llu delivered=u%llu/f%llu again=%llu retx=%llu "
           "nacks=%llu drops=%llu dgrams=%llu owed=%llu mem=%zu/%zu "
           "vt=%.2fs",
           status, (unsigned long long)w->opts.seed, s->name, s->members,
           s->outsider ? (s->intruder ? "+intruder"
                          : s->misfit ? "+misfit"
                          : s->narrow ? "+narrow"
                                      : "+outsider")
                       : "",
           security_name(s->cfg.security),
           s->aes_mask & in ? "+aes" : "",
           s->noaes_mask & in ? "+noaes" : "",
           w->fifo ? "yes" : "no",
           s->loss_max, s->dup, s->reorder, s->n_partitions, s->n_crashes,
           s->n_pauses, (unsigned)__builtin_popcount(s->slow_mask),
           (unsigned long long)t->sent[0], (unsigned long long)t->sent[1],
           (unsigned long long)t->delivered[0],
           (unsigned long long)t->delivered[1], (unsigned long long)t->again,
           (unsigned long long)t->retrans, (unsigned long long)t->nacks,
           (unsigned long long)t->drops, (unsigned long long)t->dgrams_sent,
           (unsigned long long)t->owed, t->peak_mem, t->mem_bound,
           (double)w->now_ns / 1e9);
    if (t->rejoins)
        printf(" rejoins=%llu", (unsigned long long)t->rejoins);
    if (w->opts.modes & SIM_MODES_ORDERED)
        printf(" ordered=t%llu/s%llu->t%llu/s%llu(trans %llu)",
               (unsigned long long)t->sent[COHORT_TOTAL],
               (unsigned long long)t->sent[COHORT_SAFE],
               (unsigned long long)t->delivered[COHORT_TOTAL],
               (unsigned long long)t->delivered[COHORT_SAFE],
               (unsigned long long)t->transitional);
    if (s->state)
        printf(" state=asked%llu/recv%llu/none%llu,provided=%llu,"
               "restarts=%llu,handovers=%llu,kills=%zu,kB=%llu,compared=%llu",
               (unsigned long long)w->st.asked,
               (unsigned long long)w->st.received,
               (unsigned long long)w->st.none,
               (unsigned long long)w->st.provided,
               (unsigned long long)w->st.restarts,
               (unsigned long long)w->st.handovers, w->st.kills,
               (unsigned long long)(w->st.bytes / 1024),
               (unsigned long long)w->st.compared);
    print_attack(w);
    if (s->view_bound_ns)
        printf(" one_view_at=%.3fs(bound %.1fs)",
               (double)w->views_agreed_ns / 1e9,
               (double)s->view_bound_ns / 1e9);
    if (c->trace_hash)
        printf(" hash=%016llx", (unsigned long long)w->hash);
    putchar('\n');
}

static void print_failure(const sim_world_t *w, const cli_t *c)
{
    printf("FAIL seed=%llu scenario=%s at t=%.6fs: %s\n",
           (unsigned long long)w->opts.seed, w->scn.name,
           (double)w->fail_ns / 1e9, w->why);
    printf("  replay: %s --scenario %s --seed %llu", c->argv0, w->scn.name,
           (unsigned long long)w->opts.seed);
    if (c->members)
        printf(" --nodes %d", c->members);
    if (c->no_loopback)
        printf(" --no-loopback");
    if (c->inject != SIM_INJECT_NONE)
        printf(" --self-test %s", inject_names[c->inject]);
    if (w->opts.no_attack || c->attack_rate_hz < 0)
        printf(" --attack-rate 0"); /* the twin, or as asked */
    else if (c->attack_rate_hz > 0)
        printf(" --attack-rate %.0f", c->attack_rate_hz);
    if (c->twin && !w->opts.no_attack)
        printf(" --twin");
    if (c->strict_replay)
        printf(" --strict-replay");
    if (c->modes)
        printf(" --modes %s", c->modes_text);
    if (!c->vs)
        printf(" --no-vs");
    else if (c->no_self_delivery)
        printf(" --no-self-delivery");
    printf(" --verbose\n");
    print_summary(w, c, "  run");
}

static double mean_ms(const sim_totals_t *t)
{
    if (t->owed_deliveries == 0)
        return 0.0;
    return (double)t->owed_latency_sum_ns / (double)t->owed_deliveries / 1e6;
}

/*
 * The attacked run against its twin without the attacker. The workload is
 * scripted in time (bursts at drawn moments until the heal), so keeping the
 * throughput means: every message the twin got accepted is accepted too
 * (but 1 %, at least one: sends wait for views, and a view change that
 * comes a little later or sooner shifts the last ones), owed messages
 * arrive about as fast, and the group is done about as soon.
 *
 * The attacker costs the cores no virtual time (they drop its datagrams at
 * once), but whatever a core does differently (a replay it took as new, a
 * unicast datagram sent to the attacker's address) draws the network's
 * random stream differently from then on, so the two runs lose different
 * datagrams. The bounds are the 20 % plus the slack that noise can
 * cost, and no more:
 *  - completion: at most 1.2 times the twin's whole run; and after the heal
 *    at most the twin's time plus a member timeout (another loss pattern
 *    can make a member time out just before the heal and be heard again
 *    after it) and 4 NACK retries;
 *  - mean latency of owed FIFO deliveries: at most 1.2 times the twin's
 *    plus one NACK retry interval. A loss costs the deliveries behind it a
 *    NACK round, so noise moves the mean by a fraction of that (1000
 *    `attack` seeds: within +-1.1 ms, as often down as up), while an attack
 *    that hurt, say a revived member stalling flow control or forged
 *    NACKs taken for real, costs member timeouts or retransmission storms.
 * A run slower than the liveness bound fails liveness on its own.
 */
static bool twin_compare(const sim_world_t *atk, const sim_world_t *clean,
                         char *why, size_t len)
{
    const co_core_config_t *cfg = &atk->scn.cfg;
    uint64_t sent_a = 0, sent_c = 0;
    for (unsigned m = 0; m < SIM_N_MODES; m++) {
        sent_a += atk->tot.sent[m];
        sent_c += clean->tot.sent[m];
    }
    uint64_t heal_c = clean->now_ns - clean->heal_ns;
    uint64_t heal_a = atk->now_ns - atk->heal_ns;
    uint64_t slack = cfg->member_timeout_ns + 4 * cfg->nack_retry_ns;
    /* Sends wait for views now (held during a change, none before the
     * first), so the runs' timing differs a little: up to 1 % (at least
     * one message) fewer accepted is noise, not harm. */
    uint64_t noise = sent_c / 100 > 0 ? sent_c / 100 : 1;
    if (sent_a + noise < sent_c) {
        snprintf(why, len, "throughput: with the attacker %llu messages were "
                           "accepted, without it %llu",
                 (unsigned long long)sent_a, (unsigned long long)sent_c);
        return false;
    }
    if ((double)atk->now_ns > 1.2 * (double)clean->now_ns ||
        heal_a > heal_c + slack) {
        snprintf(why, len, "throughput: done at %.3fs with the attacker "
                           "(%.3fs after the heal), %.3fs without it (%.3fs "
                           "after the heal)",
                 (double)atk->now_ns / 1e9, (double)heal_a / 1e9,
                 (double)clean->now_ns / 1e9, (double)heal_c / 1e9);
        return false;
    }
    double lat_a = mean_ms(&atk->tot), lat_c = mean_ms(&clean->tot);
    if (lat_a > 1.2 * lat_c + (double)cfg->nack_retry_ns / 1e6) {
        snprintf(why, len, "throughput: owed FIFO messages took %.3f ms on "
                           "average with the attacker, %.3f ms without it",
                 lat_a, lat_c);
        return false;
    }
    return true;
}

static sim_world_t *new_world(void)
{
    sim_world_t *w = malloc(sizeof *w);
    if (w == NULL) {
        fprintf(stderr, "cohort-sim: out of memory\n");
        exit(1);
    }
    return w;
}

/* The twin of a passing attacked run; 0 or 1. */
static int run_twin(const cli_t *c, sim_world_t *w, const sim_opts_t *o)
{
    sim_opts_t co = *o;
    co.no_attack = true;
    co.verbose = false;
    sim_world_t *clean = new_world();
    int rc = sim_run(clean, &co);
    char why[sizeof w->why];
    w->tot.twin_ns = clean->now_ns;
    w->tot.twin_heal_ns = clean->now_ns - clean->heal_ns;
    if (rc != 0) {
        printf("(the twin run, without the attacker)\n");
        print_failure(clean, c);
    } else if (!twin_compare(w, clean, why, sizeof why)) {
        sim_fail(w, "%s", why);
        print_failure(w, c);
        print_summary(clean, c, "  twin");
        rc = 1;
    }
    sim_world_free(clean);
    free(clean);
    return rc;
}

/* Run one seed of one concrete scenario; returns 0 or 1. */
static int run_one(const cli_t *c, uint64_t seed, const char *scenario)
{
    sim_opts_t o;
    memset(&o, 0, sizeof o);
    o.seed = seed;
    strcpy(o.scenario, scenario);
    o.members = c->members;
    o.verbose = c->verbose;
    o.no_loopback = c->no_loopback;
    o.inject = c->inject;
    o.attack_rate_hz = c->attack_rate_hz;
    o.strict_replay = c->strict_replay;
    o.vs = c->vs || sim_twin_test(c->inject);
    o.no_self_delivery = c->no_self_delivery;
    o.modes = c->modes;
    /* these two are about self-delivery on and off, whatever was asked */
    if (c->inject == SIM_INJECT_SELF_DELIVERY)
        o.no_self_delivery = false;
    if (c->inject == SIM_INJECT_SELF_DELIVERY_OFF)
        o.no_self_delivery = true;
    sim_world_t *w = new_world();
    int rc = sim_run(w, &o);
    if (rc != 0)
        print_failure(w, c);
    else if (w->atk.on && (c->twin || w->scn.attack_strict))
        rc = run_twin(c, w, &o);
    if (rc == 0 && !c->quiet)
        print_summary(w, c, "ok");
    fflush(stdout);
    sim_world_free(w);
    free(w);
    return rc;
}

int main(int argc, char **argv)
{
    cli_t c;
    if (parse_args(&c, argc, argv) != 0)
        return 2;
#ifdef HAVE_LIBSODIUM
    /* The core leaves sodium_init() to its caller (it reads randomness). */
    if (sodium_init() < 0)
        return 2;
#endif
    c.argv0 = argv[0];
#ifndef HAVE_LIBSODIUM
    /* Groups are then unsecured and the attacker only replays (an
     * unsecured group has no defence against forgery, scenario.c), so the
     * self-test that hides an altered datagram has none to hide. */
    if (c.inject == SIM_INJECT_ACCEPT) {
        printf("SKIP: --self-test accept: needs a build with libsodium\n");
        return 77;
    }
#endif
    if (c.modes & SIM_MODES_ORDERED) {
        bool total, safe;
        sim_probe_ordered(&total, &safe);
        if (((c.modes & SIM_MODE_BIT(COHORT_TOTAL)) && !total) ||
            ((c.modes & SIM_MODE_BIT(COHORT_SAFE)) && !safe)) {
            printf("SKIP: --modes %s: the core does not support %s yet\n",
                   c.modes_text, !total ? "TOTAL" : "SAFE");
            return 77;
        }
    }
    unsigned long long runs = 0, failed = 0;
    clock_t t0 = clock();
    for (uint64_t seed = c.first;; seed++) {
        if (strcmp(c.scenario, "all") == 0) {
            for (size_t k = 0; k < sim_n_scenarios; k++, runs++)
                failed += (unsigned)run_one(&c, seed, sim_scenarios[k]);
            for (size_t k = 0; k < sim_n_all_extra; k++, runs++)
                failed += (unsigned)run_one(&c, seed, sim_all_extra[k]);
        } else {
            const char *s = strcmp(c.scenario, "mixed") == 0
                                ? sim_scenario_for_seed(seed)
                                : c.scenario;
            failed += (unsigned)run_one(&c, seed, s);
            runs++;
        }
        if (seed == c.last)
            break;
    }
    if (runs > 1)
        printf("cohort-sim: %llu runs, %llu failed, %.1fs cpu\n", runs, failed,
               (double)(clock() - t0) / CLOCKS_PER_SEC);
    return failed ? 1 : 0;
}
