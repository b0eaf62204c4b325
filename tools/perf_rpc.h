/*
 * perf_rpc.h - cohort-perf rpc: request-reply round trips to one member
 * and to the group (first, majority, all) beside the raw UDP ping-pong
 * of the same invocation (perf_rpc.c).
 */
#ifndef COHORT_TOOLS_PERF_RPC_H
#define COHORT_TOOLS_PERF_RPC_H

/* argv[1] is "rpc". Returns a TOOL_EXIT_* status. */
int perf_rpc_main(int argc, char **argv);

#endif
