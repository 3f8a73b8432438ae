import { PolicyPack } from "@pulumi/policy";

new PolicyPack("engine-smoke-policy", {
  policies: [
    {
      name: "smoke-disallow-remote-scripts",
      description: "Fires on every remote script, so a test can see a violation.",
      enforcementLevel: "mandatory",
      validateResource: (args, reportViolation) => {
        if (args.type === "pulumi-nodejs:dynamic/skylab:RemoteScript") {
          reportViolation(`remote script ${args.name} is not allowed by the smoke policy`);
        }
      },
    },
  ],
});
