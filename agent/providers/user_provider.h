#pragma once

// The `user` and `group` resources: getent to check; useradd/usermod/userdel and
// groupadd/groupmod/groupdel to apply. They act on the host's account database, whatever the
// agent's root.

#include "agent/host/command_runner.h"
#include "agent/providers/provider.h"
#include "agent/providers/resource_attributes.h"

namespace plumb {

// The attributes of a user resource, typed; "" or empty: not managed.
struct UserSpec {
  bool present = true;
  std::string uid;  // decimal
  std::string gid;  // a number or a group name
  std::vector<std::string> groups;
  std::string home;
  std::string shell;
  bool managehome = false;  // create the home directory and keep it owned by the user
};
// Reads every attribute common/resource_types.cc declares for a user.
absl::StatusOr<UserSpec> ParseUserSpec(AttributeReader& attrs);

// The attributes of a group resource, typed.
struct GroupSpec {
  bool present = true;
  std::string gid;  // decimal; "" not managed
};
// Reads every attribute common/resource_types.cc declares for a group.
absl::StatusOr<GroupSpec> ParseGroupSpec(AttributeReader& attrs);

// user: ensure present|absent, uid, gid (number or group name), groups (supplementary; the
// user must be in at least these, others are left alone), home, shell, managehome (when true,
// the home directory — `home`, or the account's — is created mode 0755 if missing and chowned
// to the user and its primary group if owned by anyone else; /etc/skel is not copied).
// Thread-compatible.
class UserProvider : public Provider {
 public:
  // `runner` is not owned and must outlive the provider.
  explicit UserProvider(CommandRunner* runner) : runner_(runner) {}

  absl::StatusOr<CheckResult> Check(const v1::Resource& resource) override;
  absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                     const CheckResult& check) override;

 private:
  // What differs between the resource and the account; `missing` when there is none.
  struct Plan;
  absl::StatusOr<Plan> PlanFor(const v1::Resource& resource);
  // What a managed home directory needs.
  struct HomeState {
    bool missing = false;
    std::string change;  // for the report; "" when it is there and owned by uid:gid
  };
  absl::StatusOr<HomeState> CheckHome(const std::string& home, const std::string& uid,
                                      const std::string& gid);
  // Creates and chowns the home directory of the account `name` as it is now.
  absl::StatusOr<std::string> ManageHome(const std::string& name);

  CommandRunner* runner_;
};

// group: ensure present|absent, gid. Thread-compatible.
class GroupProvider : public Provider {
 public:
  // `runner` is not owned and must outlive the provider.
  explicit GroupProvider(CommandRunner* runner) : runner_(runner) {}

  absl::StatusOr<CheckResult> Check(const v1::Resource& resource) override;
  absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                     const CheckResult& check) override;

 private:
  CommandRunner* runner_;
};

}  // namespace plumb
