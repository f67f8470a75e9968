//! A certificate authority made for one test, and a server certificate it signed, as PEM
//! files: what a private server needs to speak TLS, and what a client needs to trust it.

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::TempDir;

/// The names the server certificate is valid for: how tests reach a private server.
const SERVER_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A fresh CA (`ca.pem`) and a server certificate (`server.pem`, key `server-key.pem`) for
/// 127.0.0.1 and localhost, in a directory of their own removed on drop. Two of them are two
/// unrelated CAs: one's CA file does not trust the other's server.
pub struct TestCa {
    dir: TempDir,
}

impl TestCa {
    pub fn new() -> io::Result<TestCa> {
        let dir = TempDir::new("ca")?;
        let ca_key = KeyPair::generate().map_err(io::Error::other)?;
        let mut ca_params = CertificateParams::default();
        // A name of its own: a client given another test CA's file then finds no issuer of
        // that name (UnknownIssuer), as with a real wrong CA, rather than a bad signature.
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("sessionkit test CA {}", dir.path().display()),
        );
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(io::Error::other)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(io::Error::other)?;
        let server_names: Vec<String> = SERVER_NAMES.map(str::to_owned).to_vec();
        let mut server_params = CertificateParams::new(server_names).map_err(io::Error::other)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .map_err(io::Error::other)?;

        let ca = TestCa { dir };
        std::fs::write(ca.ca_file(), ca_cert.pem())?;
        std::fs::write(ca.cert_file(), server_cert.pem())?;
        std::fs::write(ca.key_file(), server_key.serialize_pem())?;
        Ok(ca)
    }

    /// The CA's certificate: the file a client trusts.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server's certificate, signed by the CA.
    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    /// The server certificate's private key.
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("server-key.pem")
    }

    /// Copies the server's files into `dir` (a server's own directory, which may need them
    /// owned by its user) and says where they are.
    pub(crate) fn server_files_in(&self, dir: &Path) -> io::Result<ServerFiles> {
        let files = ServerFiles {
            ca: dir.join("tls-ca.pem"),
            cert: dir.join("tls-cert.pem"),
            key: dir.join("tls-key.pem"),
        };
        std::fs::copy(self.ca_file(), &files.ca)?;
        std::fs::copy(self.cert_file(), &files.cert)?;
        std::fs::copy(self.key_file(), &files.key)?;
        Ok(files)
    }
}

/// Where a TLS server finds its CA, certificate and key.
#[derive(Debug, Clone)]
pub struct ServerFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}
