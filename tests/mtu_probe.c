/*
 * mtu_probe.c - for tests/datagram-mtu.sh: the max_datagram a member on an
 * interface gets by default, as cohort_config_datagram() tells it and as
 * cohort_open() uses it.
 *
 *   mtu_probe IFACE [--ipv6]
 *
 * Prints "datagram N payload M" (M: cohort_max_payload() for UNRELIABLE
 * after a real open on IFACE) and exits 0, or prints the error text and
 * exits 1. Public API only.
 */
#include <cohort.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--ipv6"))) {
        fprintf(stderr, "usage: mtu_probe IFACE [--ipv6]\n");
        return 2;
    }
    struct cohort_config cfg;
    cohort_config_init(&cfg);
    cfg.group = "mtu-probe";
    cfg.interface = argv[1];
    cfg.ipv6 = argc == 3;
    cfg.faults = "";
    size_t dg = 0;
    int rc = cohort_config_datagram(&cfg, &dg);
    if (rc != 0) {
        printf("error %s: %s\n", cohort_strerror(rc), cohort_last_error_text());
        return 1;
    }
    cohort_t *c = NULL;
    rc = cohort_open(&c, &cfg);
    if (rc != 0) {
        printf("error %s: %s\n", cohort_strerror(rc), cohort_last_error_text());
        return 1;
    }
    printf("datagram %zu payload %zu\n", dg,
           cohort_max_payload(c, COHORT_UNRELIABLE));
    cohort_close(c);
    return 0;
}
