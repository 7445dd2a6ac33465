// plumbctl: the operator's command line.

#include <iostream>

#include "ctl/ctl.h"

int main(int argc, char** argv) { return plumb::RunCtl(argc, argv, std::cout, std::cerr); }
