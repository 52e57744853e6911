"""Facts of the Belle II CDC trigger data: column names, experts and the scaling to physical units."""

N_SUPERLAYERS = 9
STEREO_SUPERLAYERS = (1, 3, 5, 7)
AXIAL_SUPERLAYERS = (0, 2, 4, 6, 8)

ID_COLUMNS = ["Experiment", "Run", "Subrun", "Event", "Track", "nTracks", "Expert", "iNodes", "oNodes"]
INPUT_COLUMNS = [f"SL{k}-{name}" for k in range(N_SUPERLAYERS) for name in ("relID", "driftT", "alpha")]
TAIL_COLUMNS = ["RecoZ", "RecoTheta", "ScaleZ", "RawZ", "ScaleTheta", "RawTheta"]
COLUMNS = ID_COLUMNS + INPUT_COLUMNS + TAIL_COLUMNS  # the 42 required columns of a neuroresults file, in order
# optional columns newer basf2 appends after RawTheta (SPEC 3a): 45 columns have the first three, 46 all four.
# The input 2D track's phi0 [rad], the 3D track's theta [rad], its charge / pT [1/GeV] and pT [GeV].
TRIGGER_TRACK_COLUMNS = ["2DPhi", "3DTheta", "2DinvPt", "2DPt"]
INT_COLUMNS = set(ID_COLUMNS) | {"RawZ", "RawTheta"}
PREDICTION_COLUMNS = ["PredZ", "PredTheta", "PredZ_cm", "PredTheta_deg"]  # appended to predictions
FIXED_PREDICTION_COLUMNS = ["PredZFix", "PredThetaFix"]  # fixed-point output node values, units 2^-p_nodes

EXPERTS = (0, 1, 2, 3, 4)
ALL_EXPERTS = -1  # "no expert split": one network on all rows
# which stereo superlayer is missing for each expert (None: all four present)
EXPERT_MISSING_STEREO = {0: None, 1: 7, 2: 5, 3: 3, 4: 1}

# Physical units: z in [-1, 1] <-> [-100, 100] cm, theta in [-1, 1] <-> [10, 170] degrees (both linear).
Z_HALF_RANGE_CM = 100.0
THETA_MIN_DEG, THETA_MAX_DEG = 10.0, 170.0

# Hardware integers of the old network: Scale = (Raw - 0.5) / 4095.5, Raw in [-4095, 4096].
RAW_MIN, RAW_MAX = -4095, 4096
RAW_SCALE = 4095.5


def z_to_cm(z_scaled):
    """Scaled z in [-1, 1] to cm."""
    return z_scaled * Z_HALF_RANGE_CM


def z_to_scaled(z_cm):
    """z in cm to the scaled [-1, 1] range."""
    return z_cm / Z_HALF_RANGE_CM


def theta_to_deg(theta_scaled):
    """Scaled theta in [-1, 1] to degrees."""
    return THETA_MIN_DEG + (theta_scaled + 1.0) * 0.5 * (THETA_MAX_DEG - THETA_MIN_DEG)


def theta_to_scaled(theta_deg):
    """Theta in degrees to the scaled [-1, 1] range."""
    return (theta_deg - THETA_MIN_DEG) / (THETA_MAX_DEG - THETA_MIN_DEG) * 2.0 - 1.0

SPLITS = ("train", "val", "test")  # a data set's three splits, and the files of each
SPLIT_FILE_STEM = {"train": "random1", "val": "random2", "test": "random3"}
