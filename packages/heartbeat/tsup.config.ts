import { moleculeBuild } from "../../tsup.base";

export default moleculeBuild();
