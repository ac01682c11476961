// The command line: parses it with CLI11 and hands one config to one command.
#pragma once

namespace viasock {

int main_with_args(int argc, char** argv);

}  // namespace viasock
