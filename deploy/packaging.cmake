# Debian packages via CPack: plumb-agent, plumb-server and plumbctl, one component each.
#   cmake --build build --target package   ->  build/plumb-{agent,server,ctl}_<ver>_<arch>.deb

include(GNUInstallDirs)

install(TARGETS plumb-agent RUNTIME DESTINATION bin COMPONENT agent)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/plumb-agent.service
        DESTINATION lib/systemd/system COMPONENT agent)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/config/agent.yaml
        DESTINATION /etc/plumb COMPONENT agent)

install(TARGETS plumb-server RUNTIME DESTINATION bin COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/plumb-server.service
              ${CMAKE_SOURCE_DIR}/deploy/systemd/plumb-server@.service
        DESTINATION lib/systemd/system COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/config/server.yaml
        DESTINATION /etc/plumb COMPONENT server)

install(TARGETS plumbctl RUNTIME DESTINATION bin COMPONENT ctl)

# The operator's guide ships with every package (a host may have only one of them), so
# getting-started and the units' Documentation= work offline: /usr/share/doc/<package>/.
file(GLOB PLUMB_DOCS ${CMAKE_SOURCE_DIR}/docs/*.md)
foreach(pair "agent;plumb-agent" "server;plumb-server" "ctl;plumbctl")
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${CMAKE_SOURCE_DIR}/README.md ${PLUMB_DOCS}
          DESTINATION share/doc/${package} COMPONENT ${component})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME plumb)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Plumb developers <plumb@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Plumb: keeps a fleet of hosts true to a Git repository")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent server ctl)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME plumb-agent)
set(CPACK_DEBIAN_AGENT_DESCRIPTION "Plumb agent: applies this host's catalog and repairs drift")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/deploy/debian/agent/conffiles;${CMAKE_SOURCE_DIR}/deploy/debian/agent/postinst;${CMAKE_SOURCE_DIR}/deploy/debian/agent/prerm;${CMAKE_SOURCE_DIR}/deploy/debian/agent/postrm")
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME plumb-server)
set(CPACK_DEBIAN_SERVER_DESCRIPTION "Plumb server: follows a desired-state Git repository and serves catalogs")
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser, git")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/deploy/debian/server/conffiles;${CMAKE_SOURCE_DIR}/deploy/debian/server/postinst;${CMAKE_SOURCE_DIR}/deploy/debian/server/prerm;${CMAKE_SOURCE_DIR}/deploy/debian/server/postrm")
set(CPACK_DEBIAN_CTL_PACKAGE_NAME plumbctl)
set(CPACK_DEBIAN_CTL_DESCRIPTION "plumbctl: the Plumb operator's command line")

include(CPack)
