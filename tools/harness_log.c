/*
 * harness_log.c - read cohort-harness members' logs (see harness_log.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "harness_log.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void hl_log_path(char *buf, size_t len, const char *dir, uint32_t i,
                     uint32_t life)
{
    if (life == 0)
        snprintf(buf, len, "%s/member-%u.log", dir, i);
    else
        snprintf(buf, len, "%s/member-%u-%u.log", dir, i, life);
}

const char *hl_name(const struct hl_life *l, char *buf, size_t len)
{
    if (l->life == 0)
        snprintf(buf, len, "member %u", l->index);
    else
        snprintf(buf, len, "member %u life %u", l->index, l->life);
    return buf;
}

/* The next complete line of f into line (newline removed); 0 at the end
 * or at a last line cut short (a killed process's). */
int hl_next_line(FILE *f, char *line, size_t len)
{
    if (f == NULL || fgets(line, (int)len, f) == NULL)
        return 0;
    size_t n = strcspn(line, "\n");
    if (line[n] != '\n')
        return 0;
    line[n] = '\0';
    return 1;
}

/* "V id count" then the members: where the members start, or NULL. */
const char *hl_view_members(const char *line, unsigned long long *id,
                                unsigned long *count)
{
    char *end;
    *id = strtoull(line + 2, &end, 16);
    if (end == line + 2)
        return NULL;
    *count = strtoul(end, &end, 10);
    return end;
}

/* Whether the list " a b c" holds the token " b" as a whole word. */
int hl_has_token(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = strstr(list, tok); p; p = strstr(p + 1, tok))
        if (p[n] == ' ' || p[n] == '\0')
            return 1;
    return 0;
}

static void scan_line(struct hl_life *l, const char *line, char *cur,
                      size_t cur_len)
{
    unsigned long long a = 0, b = 0;
    unsigned id = 0, inc = 0;
    if (line[0] == 'S' && sscanf(line, "S %x.%u", &id, &inc) == 2 &&
        strchr(line, '.') != NULL) {
        if (l->have_me && l->nwas < HL_MAX_REJOINS)
            l->was[l->nwas++] = l->me;
        l->me.id = id;
        l->me.incarnation = inc;
        l->have_me = 1;
    } else if (line[0] == 'S' && sscanf(line, "S %llu %llu", &a, &b) == 2) {
        l->sent = a;
        l->have_sent = 1;
    } else if (line[0] == 'V' && line[1] == ' ') {
        unsigned long count;
        const char *m = hl_view_members(line, &a, &count);
        snprintf(cur, cur_len, "%s", m != NULL ? m : "");
        l->nviews++;
    } else if (line[0] == 'P' && sscanf(line, "P %llu %llx", &a, &b) == 2) {
        if (l->nranges < HL_MAX_RANGES) {
            l->range[l->nranges].from = a;
            l->range[l->nranges].view = b;
            l->nranges++;
        } else {
            l->ranges_lost++;
        }
    } else if (line[0] == 'F' && sscanf(line, "F %llx", &a) == 1) {
        l->have_final = 1;
        l->final_view = a;
        l->final_line = l->lines;
        snprintf(l->final_members, sizeof l->final_members, "%s", cur);
    } else if (strcmp(line, "Q end") == 0) {
        l->q_end = 1;
    } else if (strcmp(line, "Q leave") == 0) {
        l->q_leave = 1;
    } else if (line[0] == 'R' && line[1] == ' ') {
        l->have_summary = 1;
    } else if (strncmp(line, "# scripted", 10) == 0) {
        l->scripted = 1;
    }
}

static void scan_life(struct hl_life *l)
{
    static char line[HL_VIEW_TEXT + 64], cur[HL_VIEW_TEXT];
    FILE *f = fopen(l->path, "r");
    cur[0] = '\0';
    l->have_log = f != NULL;
    while (hl_next_line(f, line, sizeof line)) {
        l->lines++;
        scan_line(l, line, cur, sizeof cur);
    }
    if (f != NULL)
        fclose(f);
    l->fate = l->q_end ? FATE_ENDED
              : l->q_leave ? FATE_LEFT
              : !l->have_summary ? FATE_KILLED : FATE_UNFINISHED;
}

/* Every process's log in dir: member-I.log, then member-I-L.log for
 * each restart L = 1, 2, ... while they exist. */
void hl_scan_run(uint32_t members, const char *dir, struct hl_run *run)
{
    memset(run, 0, sizeof *run);
    for (uint32_t i = 0; i < members; i++) {
        for (uint32_t life = 0; life < HS_MAX_LIVES; life++) {
            struct hl_life *l = &run->life[run->n];
            struct stat st;
            hl_log_path(l->path, sizeof l->path, dir, i, life);
            if (life > 0 && stat(l->path, &st) != 0)
                break;
            l->index = i;
            l->life = life;
            scan_life(l);
            run->scripted |= l->scripted;
            run->n++;
        }
    }
}

int hl_is_me(const struct hl_life *l, cohort_member_t m)
{
    if (!l->have_me)
        return 0;
    if (l->me.id == m.id && l->me.incarnation == m.incarnation)
        return 1;
    for (size_t k = 0; k < l->nwas; k++)
        if (l->was[k].id == m.id && l->was[k].incarnation == m.incarnation)
            return 1;
    return 0;
}

struct hl_life *hl_find(struct hl_run *run, uint32_t index,
                                uint32_t life)
{
    for (size_t k = 0; k < run->n; k++)
        if (run->life[k].index == index && run->life[k].life == life)
            return &run->life[k];
    return NULL;
}

/* End of range k of l: where the next starts, else what l sent (or, for
 * a killed process, what anyone delivered of it). */
uint64_t hl_range_end(const struct hl_life *l, size_t k)
{
    uint64_t end;
    if (k + 1 < l->nranges)
        return l->range[k + 1].from;
    end = l->have_sent ? l->sent : l->seen_max;
    return end > l->range[k].from ? end : l->range[k].from;
}

long hl_member_line(const char *line, unsigned long long *id,
                    cohort_member_t out[HL_MAX_MEMBERS])
{
    unsigned long count;
    const char *list = hl_view_members(line, id, &count);
    if (list == NULL)
        return -1;
    return (long)hl_parse_members(list, out, HL_MAX_MEMBERS);
}

size_t hl_parse_members(const char *list, cohort_member_t *out,
                        size_t max)
{
    size_t n = 0;
    const char *p = list;
    while (n < max && p != NULL && *p == ' ') {
        unsigned id = 0, inc = 0;
        if (sscanf(p, " %x.%u", &id, &inc) != 2)
            break;
        out[n].id = id;
        out[n].incarnation = inc;
        n++;
        p = strchr(p + 1, ' ');
    }
    return n;
}
