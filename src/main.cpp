// viasock: keep a slow-starting filter alive behind a Unix socket.
#include "cli.h"

int main(int argc, char** argv) { return viasock::main_with_args(argc, argv); }
