#include "vcemu_kernel.h"
