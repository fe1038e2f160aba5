; Inno Setup 6 script for Checkpoint Browser on Windows.
;
; First build the one-folder app on Windows (Git Bash): packaging/build.sh
; then compile this script:      iscc /DAppVersion=0.1.0 packaging\windows\installer.iss
; Output: dist\checkpoint-browser-<version>-setup.exe
;
; Installs per user without administrator rights (or for all users, when the installer
; is run as administrator: HKA below is HKCU or HKLM accordingly). Registers the model
; file types of packaging/filetypes.py and an "Open with Checkpoint Browser" entry on
; folders; uninstalling removes every key it added. tests/test_packaging_declarations.py
; checks the [Registry] section against packaging/filetypes.py.
;
; Windows associates by extension only: `.index`, `.meta` and `.ckpt` open with the app
; by default (task "associate"); `.pb` (SavedModel's saved_model.pb, but also any other
; protobuf) only lists it under "Open with". The `checkpoint` state file has no extension.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Checkpoint Browser"
#define AppExe "checkpoint-browser.exe"
#define DistDir "..\..\dist\checkpoint-browser"

[Setup]
AppId={{8086E90D-5C14-4DCA-BA03-0BEFF9DC3DD5}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Checkpoint Browser
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ChangesAssociations=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=checkpoint-browser-{#AppVersion}-setup
SetupIconFile=..\..\resources\icons\checkpoint-browser.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Tasks]
Name: "associate"; Description: "Open TensorFlow model files (.index, .meta, .ckpt) with {#AppName}"; GroupDescription: "File types:"
Name: "folderverb"; Description: "Add ""Open with {#AppName}"" to folders"; GroupDescription: "File types:"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; -- ProgIDs: one per file type ------------------------------------------------------------
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.CheckpointIndex"; ValueType: string; ValueName: ""; ValueData: "TensorFlow checkpoint index"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.CheckpointIndex\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.CheckpointIndex\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.MetaGraph"; ValueType: string; ValueName: ""; ValueData: "TensorFlow meta graph"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.MetaGraph\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.MetaGraph\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.CheckpointV1"; ValueType: string; ValueName: ""; ValueData: "TensorFlow checkpoint (V1)"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.CheckpointV1\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.CheckpointV1\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.SavedModel"; ValueType: string; ValueName: ""; ValueData: "TensorFlow SavedModel"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.SavedModel\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\CheckpointBrowser.SavedModel\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

; -- Extensions: "Open with" for all, the default for those the app owns --------------------
Root: HKA; Subkey: "Software\Classes\.index\OpenWithProgids"; ValueType: string; ValueName: "CheckpointBrowser.CheckpointIndex"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.index"; ValueType: string; ValueName: ""; ValueData: "CheckpointBrowser.CheckpointIndex"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.meta\OpenWithProgids"; ValueType: string; ValueName: "CheckpointBrowser.MetaGraph"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.meta"; ValueType: string; ValueName: ""; ValueData: "CheckpointBrowser.MetaGraph"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.ckpt\OpenWithProgids"; ValueType: string; ValueName: "CheckpointBrowser.CheckpointV1"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.ckpt"; ValueType: string; ValueName: ""; ValueData: "CheckpointBrowser.CheckpointV1"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.pb\OpenWithProgids"; ValueType: string; ValueName: "CheckpointBrowser.SavedModel"; ValueData: ""; Flags: uninsdeletevalue

; -- The application, as "Open with" lists it ---------------------------------------------
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".index"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".meta"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".ckpt"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".pb"; ValueData: ""

; -- Folders: a context-menu verb, never the default ---------------------------------------
Root: HKA; Subkey: "Software\Classes\Directory\shell\CheckpointBrowser"; ValueType: string; ValueName: ""; ValueData: "Open with {#AppName}"; Flags: uninsdeletekey; Tasks: folderverb
Root: HKA; Subkey: "Software\Classes\Directory\shell\CheckpointBrowser"; ValueType: string; ValueName: "Icon"; ValueData: "{app}\{#AppExe},0"; Tasks: folderverb
Root: HKA; Subkey: "Software\Classes\Directory\shell\CheckpointBrowser\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: folderverb
; the same on a folder's background (the folder that is open in Explorer)
Root: HKA; Subkey: "Software\Classes\Directory\Background\shell\CheckpointBrowser"; ValueType: string; ValueName: ""; ValueData: "Open with {#AppName}"; Flags: uninsdeletekey; Tasks: folderverb
Root: HKA; Subkey: "Software\Classes\Directory\Background\shell\CheckpointBrowser"; ValueType: string; ValueName: "Icon"; ValueData: "{app}\{#AppExe},0"; Tasks: folderverb
Root: HKA; Subkey: "Software\Classes\Directory\Background\shell\CheckpointBrowser\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%V"""; Tasks: folderverb

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
