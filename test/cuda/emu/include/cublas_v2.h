#include "vcemu_rt.h"
