# Read by debian/rules together with the build tree's Makefile:
#   make -f Makefile -f debian/print-tests.mk print-offline-tests
# prints every test in TESTS except the ones that start members in a network
# namespace: those need root and unshare, which a package build does not
# promise. What remains is the unit tests, the simulator seeds and the
# fuzz corpus replay.
NETNS_TESTS := $(shell cd '$(srcdir)' && grep -l -E 'unshare|netns' $(filter %.sh,$(TESTS)) 2>/dev/null)

.PHONY: print-offline-tests
print-offline-tests:
	@echo $(filter-out $(NETNS_TESTS),$(TESTS))
