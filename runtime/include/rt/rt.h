// librt: Go's runtime as a C++20 library. The umbrella header.
#pragma once

#include "rt/chan.h"
#include "rt/context.h"
#include "rt/errgroup.h"
#include "rt/finalizer.h"
#include "rt/gc.h"
#include "rt/memstats.h"
#include "rt/metrics.h"
#include "rt/panic.h"
#include "rt/ref.h"
#include "rt/root.h"
#include "rt/sched.h"
#include "rt/semaphore.h"
#include "rt/slice.h"
#include "rt/sync.h"
#include "rt/time.h"
#include "rt/weak.h"
