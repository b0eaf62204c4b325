/*
 * harness_steps.c - parse and check cohort-harness fault scripts (see
 * harness_steps.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "harness_steps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* "2s", "2.5s", "1500ms", "3": nanoseconds; -1 if malformed. */
static int parse_time(const char *s, size_t len, uint64_t *out)
{
    char buf[32], *end;
    double v, scale = 1e9;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtod(buf, &end);
    if (end == buf || errno != 0 || !(v >= 0.0) || v > 86400.0)
        return -1;
    if (strcmp(end, "ms") == 0)
        scale = 1e6;
    else if (strcmp(end, "s") != 0 && *end != '\0')
        return -1;
    *out = (uint64_t)(v * scale);
    return 0;
}

/* A LIST of indexes (below members) ending at end: bits into *mask.
 * Returns 0 or -1 (why says what). */
static int parse_list(const char *p, const char *end, uint32_t members,
                      uint32_t *mask, const char **why)
{
    *mask = 0;
    if (p == end) {
        *why = "an empty member list";
        return -1;
    }
    for (int k = 0; p < end && k < HS_MAX_MEMBERS + 1; k++) {
        char *stop;
        unsigned long i;
        if (*p < '0' || *p > '9') {
            *why = "member indexes are numbers separated by ','";
            return -1;
        }
        i = strtoul(p, &stop, 10);
        if (i >= members) {
            *why = "a member index is not below --members";
            return -1;
        }
        if (*mask & (1u << i)) {
            *why = "a member is named twice";
            return -1;
        }
        *mask |= 1u << i;
        p = stop;
        if (p < end && *p != ',') {
            *why = "member indexes are numbers separated by ','";
            return -1;
        }
        if (p < end)
            p++;
        if (p == end && p[-1] == ',') {
            *why = "a list ends with ','";
            return -1;
        }
    }
    return p == end ? 0 : -1;
}

static int parse_groups(struct hs_step *st, const char *p, uint32_t members,
                        const char **why)
{
    uint32_t all = 0;
    unsigned g = 0;
    const char *end = p + strlen(p);
    for (; p <= end && g < HS_MAX_MEMBERS; g++) {
        const char *slash = strchr(p, '/');
        const char *stop = slash != NULL ? slash : end;
        uint32_t mask;
        if (parse_list(p, stop, members, &mask, why) != 0)
            return -1;
        if (all & mask) {
            *why = "a member is in two groups";
            return -1;
        }
        all |= mask;
        for (uint32_t i = 0; i < members; i++)
            if (mask & (1u << i))
                st->group[i] = (uint8_t)g;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (g == 0) {
        *why = "a partition needs at least two groups (0,1/2)";
        return -1;
    }
    if (all != (members >= 32 ? UINT32_MAX : (1u << members) - 1)) {
        *why = "every member must be in one group";
        return -1;
    }
    return 0;
}

/* The kind of a "NAME=LIST" action named by act[0..len), or -1. */
static int kind_of(const char *act, size_t len)
{
    static const struct { const char *name; enum hs_kind kind; } k[] = {
        {"kill", HS_KILL}, {"restart", HS_RESTART}, {"leave", HS_LEAVE},
        {"stop", HS_STOP}, {"cont", HS_CONT},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strlen(k[i].name) == len && strncmp(act, k[i].name, len) == 0)
            return (int)k[i].kind;
    return -1;
}

int hs_add(struct hs_script *s, const char *arg, uint32_t members)
{
    const char *colon = strchr(arg, ':');
    const char *why = NULL, *act, *eq;
    struct hs_step *st;
    if (s->n == HS_MAX_STEPS) {
        tool_err("--step: at most %d steps", HS_MAX_STEPS);
        return -1;
    }
    st = &s->step[s->n];
    memset(st, 0, sizeof *st);
    st->text = arg;
    if (colon == NULL || parse_time(arg, (size_t)(colon - arg),
                                    &st->at_ns) != 0) {
        tool_err("--step '%s': expected TIME:ACTION with a TIME like 2s, "
                 "2.5s or 1500ms", arg);
        return -1;
    }
    act = colon + 1;
    eq = strchr(act, '=');
    if (strcmp(act, "heal") == 0) {
        st->kind = HS_HEAL;
    } else if (eq != NULL && strncmp(act, "partition=", 10) == 0) {
        st->kind = HS_PARTITION;
        s->partitions = 1;
        if (parse_groups(st, eq + 1, members, &why) != 0)
            goto bad;
    } else if (eq != NULL && (kind_of(act, (size_t)(eq - act)) >= 0)) {
        st->kind = (enum hs_kind)kind_of(act, (size_t)(eq - act));
        if (parse_list(eq + 1, eq + strlen(eq), members, &st->who, &why) != 0)
            goto bad;
    } else {
        why = "the action is one of kill=LIST, restart=LIST, leave=LIST, "
              "stop=LIST, cont=LIST, partition=LIST/LIST[/...], heal";
        goto bad;
    }
    s->n++;
    return 0;
bad:
    tool_err("--step '%s': %s", arg, why != NULL ? why : "malformed");
    return -1;
}

int hs_check(const struct hs_script *s, uint32_t members, double timeout_s)
{
    uint32_t running = members >= 32 ? UINT32_MAX : (1u << members) - 1;
    uint32_t stopped = 0;
    unsigned lives[HS_MAX_MEMBERS];
    int cut = 0;
    uint64_t last = 0;
    for (uint32_t i = 0; i < HS_MAX_MEMBERS; i++)
        lives[i] = 1;
    for (size_t k = 0; k < s->n; k++) {
        const struct hs_step *st = &s->step[k];
        if (st->at_ns < last) {
            tool_err("--step '%s': earlier than the step before it",
                     st->text);
            return -1;
        }
        if ((double)st->at_ns >= timeout_s * 1e9) {
            tool_err("--step '%s': not before --timeout %g s", st->text,
                     timeout_s);
            return -1;
        }
        last = st->at_ns;
        switch (st->kind) {
        case HS_KILL:
        case HS_LEAVE:
            if ((st->who & running) != st->who) {
                tool_err("--step '%s': a member named is not running then",
                         st->text);
                return -1;
            }
            if (st->kind == HS_LEAVE && (st->who & stopped)) {
                tool_err("--step '%s': a stopped member cannot leave "
                         "(cont it first)", st->text);
                return -1;
            }
            running &= ~st->who;
            stopped &= ~st->who;
            break;
        case HS_STOP:
        case HS_CONT:
            if ((st->who & running) != st->who ||
                (st->kind == HS_STOP ? (st->who & stopped) != 0
                                     : (st->who & stopped) != st->who)) {
                tool_err("--step '%s': a member named is not %s then",
                         st->text,
                         st->kind == HS_STOP ? "running (and not stopped)"
                                             : "stopped");
                return -1;
            }
            stopped ^= st->who;
            break;
        case HS_RESTART:
            if (st->who & running) {
                tool_err("--step '%s': a member named is still running "
                         "(kill or leave it first)", st->text);
                return -1;
            }
            for (uint32_t i = 0; i < members; i++) {
                if (!(st->who & (1u << i)))
                    continue;
                if (++lives[i] > HS_MAX_LIVES) {
                    tool_err("--step '%s': member %u restarted more than "
                             "%d times", st->text, i, HS_MAX_LIVES - 1);
                    return -1;
                }
            }
            running |= st->who;
            break;
        case HS_PARTITION:
            cut = 1;
            break;
        case HS_HEAL:
            if (!cut) {
                tool_err("--step '%s': nothing to heal (no partition "
                         "before it)", st->text);
                return -1;
            }
            cut = 0;
            break;
        }
    }
    if (cut) {
        tool_err("--step: the script ends partitioned; end with a heal "
                 "step (the run ends with a liveness check on one view)");
        return -1;
    }
    if (stopped != 0) {
        tool_err("--step: the script ends with a member stopped; end with "
                 "a cont step (the run ends with a liveness check)");
        return -1;
    }
    if (running == 0) {
        tool_err("--step: no member is running at the end");
        return -1;
    }
    return 0;
}
