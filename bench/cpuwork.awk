# A CPU-bound, line-flushing, stateless filter: for every line, a loop of
# arithmetic whose length is set by -v rounds=N, then the line and a checksum.
# It keeps no state between lines, so any split of the lines over instances
# gives the same output.
{
    h = ($1 + 0) + length($0)
    for (i = 0; i < rounds; i++)
        h = (h * 31 + i) % 1000003
    print h, $0
    fflush()
}
