#include "common/logging.h"
