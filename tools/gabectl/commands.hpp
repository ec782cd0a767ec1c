// The commands, one file per group; main.cpp's registry names them with their synopsis.
#pragma once

#include <string>

#include "cli.hpp"

namespace gabe::gabectl {

int migrate(const Args& args);           // migrate.cpp
int token_create(const Args& args);      // token.cpp
int token_revoke(const Args& args);      // token.cpp
std::string source_add_synopsis();       // source.cpp
extern const char* const kOptInOptions;  // source.cpp
int source_add(const Args& args);        // source.cpp
int source_rotate(const Args& args);     // source.cpp
int source_set(const Args& args);        // source.cpp
std::string source_set_synopsis();       // source.cpp
int demo_data(const Args& args);         // demo_data_command.cpp
int import_file(const Args& args);       // import.cpp
int purge(const Args& args);             // purge.cpp

}  // namespace gabe::gabectl
