/*
 * A stand-in for FreeBSD's libvmmapi, built by vmmapi's tests on Linux.
 * It has the functions wifibox binds, with libvmmapi's signatures and
 * return conventions (0 or -1 with errno; NULL with errno), records each
 * call with its arguments, and fails a chosen call with a chosen errno.
 * Built with -DNO_VM_CLOSE it lacks vm_close, like 12.x libraries.
 * Built with -DOPEN_DESTROYS a failed vm_open calls vm_destroy, as 12.x's
 * does (lib/libvmmapi/vmmapi.c, freebsd-src 02a6052b), whose
 * hw.vmm.destroy of a VM that is not there leaves errno EINVAL.
 *
 *   stub_fail(call, errno)  the next calls of `call` fail with errno
 *   stub_calls()            the calls so far, one per line
 *   stub_vanish(path)       a failing vm_open removes the file at path
 *                           first: the VM's node goes as it is opened
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vmctx {
	char name[256];
};

static char calls[16384];
static char fail_call[64];
static int fail_errno;
static char vanish[4096];

static void
record(const char *fmt, ...)
{
	size_t used = strlen(calls);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(calls + used, sizeof(calls) - used, fmt, ap);
	va_end(ap);
	used = strlen(calls);
	if (used + 1 < sizeof(calls))
		strcpy(calls + used, "\n");
}

/* failing sets errno and returns 1 when call is to fail. */
static int
failing(const char *call)
{
	if (fail_errno != 0 && strcmp(call, fail_call) == 0) {
		errno = fail_errno;
		return 1;
	}
	return 0;
}

void
stub_fail(const char *call, int err)
{
	snprintf(fail_call, sizeof(fail_call), "%s", call);
	fail_errno = err;
}

void
stub_vanish(const char *path)
{
	snprintf(vanish, sizeof(vanish), "%s", path);
}

const char *
stub_calls(void)
{
	return calls;
}

int
vm_create(const char *name)
{
	record("vm_create %s", name);
	return failing("vm_create") ? -1 : 0;
}

struct vmctx *
vm_open(const char *name)
{
	struct vmctx *ctx;

	record("vm_open %s", name);
	if (failing("vm_open")) {
		if (vanish[0] != '\0')
			unlink(vanish);
#ifdef OPEN_DESTROYS
		record("vm_destroy %s", name);
		errno = EINVAL;
#endif
		return NULL;
	}
	ctx = calloc(1, sizeof(*ctx));
	snprintf(ctx->name, sizeof(ctx->name), "%s", name);
	return ctx;
}

int
vm_suspend(struct vmctx *ctx, int how)
{
	record("vm_suspend %s %d", ctx->name, how);
	return failing("vm_suspend") ? -1 : 0;
}

/* The boot vCPU is active; stub_fail("vm_active_cpus", 0) is no use, so
 * stub_inactive() makes the set empty. */
static int inactive;

void
stub_inactive(void)
{
	inactive = 1;
}

int
vm_active_cpus(struct vmctx *ctx, unsigned char *cpus)
{
	record("vm_active_cpus %s", ctx->name);
	if (failing("vm_active_cpus"))
		return -1;
	memset(cpus, 0, 32); /* a 13.x/14.x cpuset_t */
	cpus[0] = inactive ? 0 : 1;
	return 0;
}

void
vm_destroy(struct vmctx *ctx)
{
	record("vm_destroy %s", ctx->name);
	free(ctx);
}

#ifndef NO_VM_CLOSE
void
vm_close(struct vmctx *ctx)
{
	record("vm_close %s", ctx->name);
	free(ctx);
}
#endif
