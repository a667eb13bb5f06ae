/* Counts and times CVODE's work inside libroadrunner: right-hand sides, dense linear algebra, CVode calls.
 *
 * An LD_PRELOAD shim. CVodeInit and CVodeSetUserData are interposed: every integrator's right-hand side is
 * replaced by a trampoline that times the real one (thread CPU time) and counts the call, the evaluations
 * of CVODE's difference-quotient Jacobian included. CVodeSetLinearSolver is interposed to replace, in the
 * dense linear solver's and matrix's operation tables, the LU factorisation (SUNLinSolSetup_Dense), the LU
 * solve (SUNLinSolSolve_Dense) and the forming of the Newton matrix I - gamma J (SUNMatScaleAddI_Dense,
 * SUNMatCopy_Dense of the saved Jacobian) by timing trampolines; the tables are searched for the real
 * functions' addresses, so no field order is assumed. CVode itself is interposed and timed, and after
 * each call CVODE's own counters (steps, Newton iterations, Jacobians, ...) are read and summed over
 * integrators and re-initialisations.
 *
 * A thread-CPU clock reading is a system call here (about 0.6 us between two readings with nothing in
 * between, 1.3 us of CPU per pair), as costly as a right-hand side, so the shim times in one of two modes
 * (bc_set_fine): coarse (the default) times only the CVode calls, and counts everything else; fine times
 * the right-hand sides and the linear algebra but not the CVode calls around them. bc_timer_cost measures
 * the clock's own interval, which the benchmark subtracts from each fine-timed call.
 * benchmarks/solver_bound.py builds and reads it (ctypes). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

typedef double sunrealtype;
typedef void *N_Vector;
typedef void *SUNMatrix;
typedef void *SUNLinearSolver;
typedef int (*CVRhsFn)(sunrealtype t, N_Vector y, N_Vector ydot, void *user_data);
typedef int (*CVodeInitFn)(void *mem, CVRhsFn f, sunrealtype t0, N_Vector y0);
typedef int (*CVodeReInitFn)(void *mem, sunrealtype t0, N_Vector y0);
typedef int (*CVodeSetUserDataFn)(void *mem, void *user_data);
typedef int (*CVodeSetLinearSolverFn)(void *mem, SUNLinearSolver ls, SUNMatrix a);
typedef int (*CVodeFn)(void *mem, sunrealtype tout, N_Vector yout, sunrealtype *tret, int itask);
typedef int (*GetLongFn)(void *mem, long int *value);
typedef int (*SetupFn)(SUNLinearSolver ls, SUNMatrix a);
typedef int (*SolveFn)(SUNLinearSolver ls, SUNMatrix a, N_Vector x, N_Vector b, sunrealtype tol);
typedef int (*ScaleAddIFn)(sunrealtype c, SUNMatrix a);
typedef int (*CopyFn)(SUNMatrix a, SUNMatrix b);

#define SLOTS 256
static void *slot_mem[SLOTS];
static void *slot_data[SLOTS];
static CVRhsFn slot_rhs[SLOTS];
static int slots = 0;
static unsigned long long rhs_calls = 0, lost = 0;
static double rhs_seconds = 0.0;
static int fine = 0; /* 1: time right-hand sides and linear algebra; 0: time CVode calls */

/* What is timed besides the right-hand sides (see bc_counts for the order). */
enum { LU_FACTOR, LU_SOLVE, MATRIX, CVODE_CALLS, TIMED };
static unsigned long long timed_calls[TIMED];
static double timed_seconds[TIMED];

/* CVODE's counters, summed: see STAT_NAMES in solver_bound.py for the order. */
#define STATS 8
static const char *stat_getters[STATS] = {
    "CVodeGetNumSteps",          "CVodeGetNumRhsEvals",      "CVodeGetNumLinRhsEvals",
    "CVodeGetNumJacEvals",       "CVodeGetNumLinSolvSetups", "CVodeGetNumNonlinSolvIters",
    "CVodeGetNumErrTestFails",   "CVodeGetNumNonlinSolvConvFails",
};
static GetLongFn stat_fn[STATS];
static long int stat_seen[SLOTS][STATS];
static int stat_fresh[SLOTS]; /* counters restarted (init, re-init) since they were last read */
static unsigned long long stat_total[STATS];

static SetupFn real_setup = 0;
static SolveFn real_solve = 0;
static ScaleAddIFn real_scaleaddi = 0;
static CopyFn real_copy = 0;

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

static int find_slot(void *mem) {
    for (int i = 0; i < slots; i++)
        if (slot_mem[i] == mem) return i;
    return -1;
}

static int slot_of_mem(void *mem) {
    int i = find_slot(mem);
    if (i >= 0) return i;
    if (slots == SLOTS) return -1;
    slot_mem[slots] = mem;
    slot_data[slots] = 0;
    slot_rhs[slots] = 0;
    stat_fresh[slots] = 1;
    return slots++;
}

static int trampoline(sunrealtype t, N_Vector y, N_Vector ydot, void *user_data) {
    for (int i = slots - 1; i >= 0; i--) {
        if (slot_data[i] == user_data && slot_rhs[i]) {
            rhs_calls++;
            if (!fine) return slot_rhs[i](t, y, ydot, user_data);
            double began = now();
            int flag = slot_rhs[i](t, y, ydot, user_data);
            rhs_seconds += now() - began;
            return flag;
        }
    }
    lost++; /* cannot happen: the user data was registered before CVODE integrates */
    abort();
}

static int timed_setup(SUNLinearSolver ls, SUNMatrix a) {
    timed_calls[LU_FACTOR]++;
    if (!fine) return real_setup(ls, a);
    double began = now();
    int flag = real_setup(ls, a);
    timed_seconds[LU_FACTOR] += now() - began;
    return flag;
}

static int timed_solve(SUNLinearSolver ls, SUNMatrix a, N_Vector x, N_Vector b, sunrealtype tol) {
    timed_calls[LU_SOLVE]++;
    if (!fine) return real_solve(ls, a, x, b, tol);
    double began = now();
    int flag = real_solve(ls, a, x, b, tol);
    timed_seconds[LU_SOLVE] += now() - began;
    return flag;
}

static int timed_scaleaddi(sunrealtype c, SUNMatrix a) {
    timed_calls[MATRIX]++;
    if (!fine) return real_scaleaddi(c, a);
    double began = now();
    int flag = real_scaleaddi(c, a);
    timed_seconds[MATRIX] += now() - began;
    return flag;
}

static int timed_copy(SUNMatrix a, SUNMatrix b) {
    timed_calls[MATRIX]++;
    if (!fine) return real_copy(a, b);
    double began = now();
    int flag = real_copy(a, b);
    timed_seconds[MATRIX] += now() - began;
    return flag;
}

/* Replace `real` by `timed` in an object's operation table: one of its first fields points to the table
 * (the field's place differs between SUNDIALS versions; 7.x's linear solver has it third). */
static void patch(void *object, void *real, void *timed) {
    if (!object) return;
    for (int field = 0; field < 4; field++) {
        void **ops = ((void ***)object)[field];
        for (int k = 0; ops && k < 16; k++) {
            if (ops[k] == real) {
                ops[k] = timed;
                return;
            }
        }
    }
}

int CVodeInit(void *mem, CVRhsFn f, sunrealtype t0, N_Vector y0) {
    static CVodeInitFn real = 0;
    if (!real) real = (CVodeInitFn)real_symbol("CVodeInit");
    int i = slot_of_mem(mem);
    if (i < 0) return real(mem, f, t0, y0); /* more integrators than slots: not counted */
    slot_rhs[i] = f;
    stat_fresh[i] = 1;
    return real(mem, trampoline, t0, y0);
}

int CVodeReInit(void *mem, sunrealtype t0, N_Vector y0) {
    static CVodeReInitFn real = 0;
    if (!real) real = (CVodeReInitFn)real_symbol("CVodeReInit");
    int i = find_slot(mem);
    if (i >= 0) stat_fresh[i] = 1;
    return real(mem, t0, y0);
}

int CVodeSetUserData(void *mem, void *user_data) {
    static CVodeSetUserDataFn real = 0;
    if (!real) real = (CVodeSetUserDataFn)real_symbol("CVodeSetUserData");
    int i = slot_of_mem(mem);
    if (i >= 0) slot_data[i] = user_data;
    return real(mem, user_data);
}

int CVodeSetLinearSolver(void *mem, SUNLinearSolver ls, SUNMatrix a) {
    static CVodeSetLinearSolverFn real = 0;
    if (!real) {
        real = (CVodeSetLinearSolverFn)real_symbol("CVodeSetLinearSolver");
        real_setup = (SetupFn)real_symbol("SUNLinSolSetup_Dense");
        real_solve = (SolveFn)real_symbol("SUNLinSolSolve_Dense");
        real_scaleaddi = (ScaleAddIFn)real_symbol("SUNMatScaleAddI_Dense");
        real_copy = (CopyFn)real_symbol("SUNMatCopy_Dense");
    }
    patch(ls, (void *)real_setup, (void *)timed_setup);
    patch(ls, (void *)real_solve, (void *)timed_solve);
    patch(a, (void *)real_scaleaddi, (void *)timed_scaleaddi);
    patch(a, (void *)real_copy, (void *)timed_copy);
    return real(mem, ls, a);
}

/* Add what CVODE's counters of one integrator gained since they were last read. */
static void read_stats(int i) {
    if (!stat_fn[0])
        for (int k = 0; k < STATS; k++) stat_fn[k] = (GetLongFn)real_symbol(stat_getters[k]);
    for (int k = 0; k < STATS; k++) {
        long int value = 0;
        if (stat_fn[k](slot_mem[i], &value) != 0) value = stat_seen[i][k];
        long int seen = stat_fresh[i] ? 0 : stat_seen[i][k];
        if (value >= seen) stat_total[k] += (unsigned long long)(value - seen);
        stat_seen[i][k] = value;
    }
    stat_fresh[i] = 0;
}

int CVode(void *mem, sunrealtype tout, N_Vector yout, sunrealtype *tret, int itask) {
    static CVodeFn real = 0;
    if (!real) real = (CVodeFn)real_symbol("CVode");
    timed_calls[CVODE_CALLS]++;
    double began = fine ? 0.0 : now();
    int flag = real(mem, tout, yout, tret, itask);
    if (!fine) timed_seconds[CVODE_CALLS] += now() - began;
    int i = find_slot(mem);
    if (i >= 0) read_stats(i);
    return flag;
}

/* Read by the benchmark through ctypes. */
void bc_rhs_counts(unsigned long long *calls, double *seconds) {
    *calls = rhs_calls;
    *seconds = rhs_seconds;
}

/* Calls and CPU seconds of: LU factorisations, LU solves, forming the Newton matrix, CVode calls. */
void bc_timed_counts(unsigned long long *calls, double *seconds) {
    for (int k = 0; k < TIMED; k++) {
        calls[k] = timed_calls[k];
        seconds[k] = timed_seconds[k];
    }
}

/* CVODE's counters summed over every integrator (the order of stat_getters). */
void bc_cvode_stats(unsigned long long *values) {
    for (int k = 0; k < STATS; k++) values[k] = stat_total[k];
}

void bc_rhs_reset(void) {
    rhs_calls = 0;
    rhs_seconds = 0.0;
}

/* 1: time the right-hand sides and the linear algebra (fine); 0: time the CVode calls (coarse). */
void bc_set_fine(int on) { fine = on; }

/* The mean CPU seconds between two consecutive clock readings: what timing adds to each timed call. */
double bc_timer_cost(int pairs) {
    double total = 0.0;
    for (int i = 0; i < pairs; i++) {
        double began = now();
        total += now() - began;
    }
    return pairs > 0 ? total / pairs : 0.0;
}
