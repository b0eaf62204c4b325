/*
 * harness_net.h - cohort-harness's own network: one network namespace per
 * member, each joined by a veth pair to a bridge in a namespace of the
 * harness's own, and nftables rules on that bridge to cut the links
 * between groups of members (partitions) and to drop a share of UDP
 * (kernel loss). The harness never touches the namespace it was started
 * in: everything here lives in namespaces it created, held only by its
 * file descriptors, and goes away with them.
 */
#ifndef COHORT_HARNESS_NET_H
#define COHORT_HARNESS_NET_H

#include <stddef.h>
#include <stdint.h>

#define HN_MAX_MEMBERS 16
#define HN_MEMBER_IFACE "ch0"  /* each member's end of its veth pair */

struct hn_net {
    int on;
    int orig_fd;                      /* the namespace we started in */
    int bridge_fd;                    /* ours: the bridge and its rules */
    int member_fd[HN_MAX_MEMBERS];
    uint32_t members;
    unsigned drop_pct;                /* kernel loss on the bridge, 0..100 */
    char dir[4096];                   /* where rule files are written */
};

/* Create the namespaces, bridge, veths, addresses, multicast routes and
 * the (empty) rule table, for members 0..members-1. drop_pct of UDP
 * frames crossing the bridge are dropped from the start. Leaves this
 * process in the bridge namespace. Returns 0, or -1 with why filled (no
 * permission, no ip or nft: callers skip); on -1 nothing is left behind
 * (hn_close undoes what was made). */
int hn_open(struct hn_net *n, uint32_t members, unsigned drop_pct,
            const char *dir, char *why, size_t why_len);

/* Move this process into member i's namespace (to fork it there), and
 * back to the bridge's. Return 0 or -1. */
int hn_enter(const struct hn_net *n, uint32_t i);
int hn_return(const struct hn_net *n);

/* Cut every link between members in different groups (group[i] for
 * member i), or with group NULL restore every link. Kernel loss stays.
 * Returns 0 or -1 with a message printed. */
int hn_cut(const struct hn_net *n, const uint8_t *group);

/* Close every namespace (the veths and bridge go with them) and return
 * to the original namespace. Safe on a closed or never opened n. */
void hn_close(struct hn_net *n);

#endif
