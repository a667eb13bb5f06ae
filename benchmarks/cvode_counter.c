/* Counts and times the right-hand-side evaluations CVODE makes inside libroadrunner (an LD_PRELOAD shim).
 *
 * CVodeInit and CVodeSetUserData are interposed: every integrator's right-hand side is replaced by a
 * trampoline that times the real one (thread CPU time) and counts the call, the evaluations of CVODE's
 * difference-quotient Jacobian included. benchmarks/solver_bound.py builds and reads it (ctypes). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

typedef double sunrealtype;
typedef void *N_Vector;
typedef int (*CVRhsFn)(sunrealtype t, N_Vector y, N_Vector ydot, void *user_data);
typedef int (*CVodeInitFn)(void *mem, CVRhsFn f, sunrealtype t0, N_Vector y0);
typedef int (*CVodeSetUserDataFn)(void *mem, void *user_data);

#define SLOTS 256
static void *slot_mem[SLOTS];
static void *slot_data[SLOTS];
static CVRhsFn slot_rhs[SLOTS];
static int slots = 0;
static unsigned long long rhs_calls = 0, lost = 0;
static double rhs_seconds = 0.0;

static void *real_symbol(const char *name) {
    /* Python loads libroadrunner with RTLD_LOCAL: look the symbol up in its own handle */
    const char *path = getenv("BCSIGNAL_ROADRUNNER_LIBRARY");
    void *lib = path ? dlopen(path, RTLD_LAZY | RTLD_NOLOAD) : 0;
    void *sym = lib ? dlsym(lib, name) : dlsym(RTLD_NEXT, name);
    if (!sym) abort();
    return sym;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int slot_of_mem(void *mem) {
    for (int i = 0; i < slots; i++)
        if (slot_mem[i] == mem) return i;
    if (slots == SLOTS) return -1;
    slot_mem[slots] = mem;
    slot_data[slots] = 0;
    slot_rhs[slots] = 0;
    return slots++;
}

static int trampoline(sunrealtype t, N_Vector y, N_Vector ydot, void *user_data) {
    for (int i = slots - 1; i >= 0; i--) {
        if (slot_data[i] == user_data && slot_rhs[i]) {
            double began = now();
            int flag = slot_rhs[i](t, y, ydot, user_data);
            rhs_seconds += now() - began;
            rhs_calls++;
            return flag;
        }
    }
    lost++; /* cannot happen: the user data was registered before CVODE integrates */
    abort();
}

int CVodeInit(void *mem, CVRhsFn f, sunrealtype t0, N_Vector y0) {
    static CVodeInitFn real = 0;
    if (!real) real = (CVodeInitFn)real_symbol("CVodeInit");
    int i = slot_of_mem(mem);
    if (i < 0) return real(mem, f, t0, y0); /* more integrators than slots: not counted */
    slot_rhs[i] = f;
    return real(mem, trampoline, t0, y0);
}

int CVodeSetUserData(void *mem, void *user_data) {
    static CVodeSetUserDataFn real = 0;
    if (!real) real = (CVodeSetUserDataFn)real_symbol("CVodeSetUserData");
    int i = slot_of_mem(mem);
    if (i >= 0) slot_data[i] = user_data;
    return real(mem, user_data);
}

/* Read by the benchmark through ctypes. */
void bc_rhs_counts(unsigned long long *calls, double *seconds) {
    *calls = rhs_calls;
    *seconds = rhs_seconds;
}

void bc_rhs_reset(void) {
    rhs_calls = 0;
    rhs_seconds = 0.0;
}
