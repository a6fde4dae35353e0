-- Argo CD health check for inference.pixtral.dev/PixtralDeployment (Lua 5.1, as Argo CD runs it).
-- Install it under resource.customizations.health.inference.pixtral.dev_PixtralDeployment in
-- argocd-cm (see the chart's README). Argo CD reports Missing itself when the object is absent.
local hs = {}

local function condition(conditions, type)
  for _, c in ipairs(conditions or {}) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end

-- A status written for an older spec says nothing about the current one (kstatus' rule).
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local conditions = status.conditions
local degraded = condition(conditions, "Degraded")
local stalled = condition(conditions, "Stalled")
local ready = condition(conditions, "Ready")
local progressing = condition(conditions, "Progressing")

if status.phase == "Deleting" then
  hs.status = "Progressing"
  hs.message = "Deleting"
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded)
  return hs
end
if status.phase == "Error" then
  hs.status = "Degraded"
  hs.message = (ready ~= nil and describe(ready)) or "Error"
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
hs.status = "Progressing"
if progressing ~= nil and progressing.status == "True" then
  hs.message = describe(progressing)
else
  hs.message = status.phase or "Waiting for the operator"
end
return hs
