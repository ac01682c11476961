# The Debian package (scripts/package runs `cpack -G DEB`). The binary is
# static, so the package depends on nothing.
set(CPACK_PACKAGE_NAME viasock)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "viasock")
set(CPACK_PACKAGE_CONTACT "viasock maintainers <viasock@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "keep a slow-starting text filter alive and serve many calls from it")
# One string (CPack indents the long description for the control file).
set(CPACK_PACKAGE_DESCRIPTION "viasock runs a command-line filter that is slow to start (a parser \
loading its model, a spelling checker loading its dictionary) once, in a background daemon reached \
over a Unix socket, and serves every later call of the same command from it. The output is byte for \
byte what the tool prints when run directly.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
set(CPACK_GENERATOR DEB)
include(CPack)
